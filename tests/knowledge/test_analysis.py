from knowledge.analysis import analyse, analysed_words, standard_text


def test_korean_morphemes_keep_nouns_and_stems_drop_particles_and_endings() -> None:
    terms = analyse("환불은 어떻게 받았나요?")
    assert "환불" in terms and "받" in terms
    assert "은" not in terms and "나요" not in terms and "?" not in terms


def test_inflected_forms_share_a_stem() -> None:
    assert set(analyse("신청했습니다")) & set(analyse("신청하려면"))


def test_english_and_numbers_go_through_the_same_path_lowercased_and_stemmed() -> None:
    assert analyse("Reset your PASSWORD in 30 minutes") == ["reset", "your", "password", "in", "30", "minut"]


def test_english_inflections_meet_as_korean_ones_do() -> None:
    assert analyse("cancelling", query=True) == analyse("Cancelled", query=True) == analyse("cancel", query=True)
    assert analyse("shipping fees") == analyse("ship fee")
    assert analyse("How do I cancel?", query=True) == ["cancel"]  # stop words are dropped before stemming


def test_question_words_and_light_verbs_are_not_query_terms() -> None:
    """ "much" and "get" appear in no article, so as query terms they carried the highest idf
    and halved the coverage of "How much is Nabi Plus?" and "Can I get a refund?"."""
    assert analyse("How much is Nabi Plus?", query=True) == ["nabi", "plus"]
    assert analyse("Can I get a refund?", query=True) == ["refund"]
    assert analyse("How many points have I got?", query=True) == ["point"]
    assert "much" in analyse("How much is Nabi Plus?")  # indexed text keeps every word


def test_the_interrogatives_of_how_long_and_how_much_are_not_query_terms_in_either_language() -> None:
    """ "How long does shipping take?" went to an article where "how long … takes" stood
    together, and "반품은 며칠 안에 해야 돼요?" looked half uncovered: 며칠, 얼마 and 어떻(게) are
    nouns and an adjective to Kiwi, so the tag filter kept them."""
    assert analyse("How long does shipping take?", query=True) == ["ship", "take"]
    assert analyse("How often and how soon?", query=True) == []
    assert analyse("반품은 며칠 안에 해야 돼요?", query=True) == [
        "반품"
    ]  # 안 ("within") too, since the seventh session
    assert analyse("배송비 얼마예요?", query=True) == ["배송비"]
    assert analyse("탈퇴는 어떻게 해요?", query=True) == ["탈퇴"]
    assert "며칠" in analyse("반품은 며칠 안에 해야 돼요?")  # indexed text keeps every word


def test_english_conjunctions_and_determiners_are_not_query_terms() -> None:
    """ "if", "while", "that", "any" … are in no help article's topic; in a dozen articles
    BM25 gave them weight anyway. Articles keep them."""
    assert analyse("how much do i pay if i lose an electric bike", query=True) == ["pay", "lose", "electr", "bike"]
    assert analyse("can i lock the bike while i grab a coffee", query=True) == ["lock", "bike", "grab", "coffe"]
    assert analyse("is that refund available at any time", query=True) == ["refund", "avail", "time"]
    assert "if" in analyse("Refunds are sent if the item is unused.")


def test_korean_bound_nouns_and_light_verbs_of_a_question_are_not_query_terms() -> None:
    """수 and 가능 ("can"), 거/것 ("thing"), 안 ("within"), 알리- ("tell me"), 걸리- ("take",
    of how long) and 몇 ("how many") carry no topic: "반품은 며칠 안에 해야 돼요?" matched the
    cancellation article on 안 and escalated. Articles keep them."""
    assert analyse("교환 가능해요?", query=True) == ["교환"]
    assert analyse("포인트로 결제할 수 있나요? 알려주세요", query=True) == ["포인트", "결제"]
    assert analyse("배송 얼마나 걸려요?", query=True) == ["배송"]
    assert analyse("인증번호 유효시간 몇 분이에요?", query=True) == ["인증", "번호", "유효", "시간", "분"]
    assert {"수", "가능", "걸리"} <= set(analyse("처리에 3일 걸릴 수 있으며, 교환도 가능합니다."))


def test_analysed_words_pair_each_term_with_the_word_it_came_from() -> None:
    text = "Cancelling the delivery of 2 items? 배송을 취소했어요"
    pairs = analysed_words(text, query=True)
    assert [term for _, term in pairs] == analyse(text, query=True)
    assert ("cancelling", "cancel") in pairs and ("delivery", "deliveri") in pairs and ("items", "item") in pairs
    assert ("배송", "배송") in pairs and ("취소", "취소") in pairs  # a Korean morpheme is its own word


def test_a_sentence_final_english_word_stays_whole() -> None:
    # Kiwi cuts "Icheon." into "I" + "cheon." and "shipping." into "shipp" + "ing.".
    assert analyse("We ship from Icheon.") == ["we", "ship", "from", "icheon"]
    assert analyse("Free before shipping. 무료 배송")[:3] == ["free", "befor", "ship"]


def test_terms_are_safe_for_the_simple_tsquery_parser() -> None:
    terms = analyse("e-mail: <script>alert('x')</script> & | ! C++_test")
    assert terms and all(t.isalnum() for t in terms)


def test_language_is_korean_when_hangul_is_at_least_a_third_of_the_letters() -> None:
    from knowledge.analysis import detect_language

    assert detect_language("환불은 어떻게 하나요?") == "ko"
    assert detect_language("Refund 정책 안내") == "ko"
    assert detect_language("How do I get a refund for my 나비 order?") == "en"
    assert detect_language("12345 ?!") == "en"


def test_everyday_korean_abbreviations_are_searched_as_the_words_articles_write() -> None:
    """ "비번 까먹었어요" shared no term with the password article, which writes 비밀번호."""
    assert analyse("비번 까먹었어요", query=True) == ["비밀번호", "까먹"]
    assert analyse("비번이 뭐였지", query=True) == ["비밀번호"]  # also where Kiwi's user words were not read
    assert analyse("핸드폰 번호 바꿨어요", query=True) == ["휴대폰", "번호", "바꾸"]
    assert analyse("폰이 전진하면", query=True)[0] == "폰"  # a pawn in KorQuAD's chess article
    assert analyse("카톡 상담", query=True) == analyse("카카오톡 상담", query=True)
    assert analyse("무배 기준", query=True) == ["무료", "배송", "기준"]
    assert analyse("스마트폰 이어폰 핸드폰") == ["스마트폰", "이어폰", "휴대폰"]  # whole words only
    assert analysed_words("비번 변경", query=True)[0] == ("비밀번호", "비밀번호")


def test_a_question_is_embedded_with_the_same_words_written_out() -> None:
    assert standard_text("예전에 쓰던 비번 다시 써도 되나요") == "예전에 쓰던 비밀번호 다시 써도 되나요"
    assert standard_text("무배예요?") == "무료 배송예요?"
    assert standard_text("스마트폰으로 주문") == "스마트폰으로 주문"
    assert standard_text("How do I reset my password?") == "How do I reset my password?"


def test_a_word_joined_by_a_change_of_case_is_searched_whole_and_in_parts() -> None:
    article = "KakaoPay, Naver Pay and Toss Pay"
    assert analyse(article) == ["kakaopay", "kakao", "pay", "naver", "pay", "and", "toss", "pay"]
    assert analyse("can i pay with kakao pay", query=True) == ["pay", "kakao", "pay"]
    assert analyse("kakaopay", query=True) == ["kakaopay"]  # the whole word still matches the article's
    assert analyse("NH Visa BC") == ["nh", "visa", "bc"]  # capitals alone, or one capital, are one word
