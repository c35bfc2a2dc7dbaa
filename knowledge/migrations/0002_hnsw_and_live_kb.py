from django.db import migrations

# One partial HNSW expression index per embedding dimension we ship a provider for:
# 384 = multilingual-e5-small (local), 1536 = OpenAI text-embedding-3-small. Queries cast
# ``embedding::vector(N)`` and filter ``embedding_dimensions = N`` so the planner uses it.
# m/ef_construction are pgvector's defaults (16/64).
HNSW_DIMENSIONS = (384, 1536)


def create_live_kb(apps, schema_editor):
    KnowledgeBase = apps.get_model("knowledge", "KnowledgeBase")
    KnowledgeBase.objects.get_or_create(slug="help-centre", defaults={"name": "Help centre"})


class Migration(migrations.Migration):
    dependencies = [("knowledge", "0001_initial")]

    operations = [
        *[
            migrations.RunSQL(
                f"CREATE INDEX chunk_embedding_hnsw_{dims} ON knowledge_chunk "
                f"USING hnsw ((embedding::vector({dims})) vector_cosine_ops) "
                f"WHERE embedding_dimensions = {dims};",
                f"DROP INDEX IF EXISTS chunk_embedding_hnsw_{dims};",
            )
            for dims in HNSW_DIMENSIONS
        ],
        migrations.RunPython(create_live_kb, migrations.RunPython.noop),
    ]
