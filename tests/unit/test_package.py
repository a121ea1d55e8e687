from __future__ import annotations

import subprocess
import sys


def test_the_four_classes_import_from_neulora_without_heavy_libraries() -> None:
    code = ("import sys; from neulora import CentroidRouter, ChromaRetriever, HFStyleClient, Pipeline; "
            "from neulora.embeddings import HashingEmbedder, TransformersEmbedder, HFInferenceEmbedder; "
            "print(sorted(m for m in ('chromadb', 'torch', 'transformers', 'huggingface_hub') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_exported_name_exists() -> None:
    import neulora

    assert all(hasattr(neulora, name) for name in neulora.__all__)
    assert issubclass(neulora.RouterFileError, neulora.ConfigError) and issubclass(neulora.ConfigError, ValueError)
