"""A tiny, randomly initialised Qwen3-architecture model and a local tokenizer (no downloads).

For smoke tests of the GRPO recipe: byte-level BPE trained on the given texts, Qwen's special
tokens, and TRL's own Qwen3 chat template (so TRL parses tool calls as for Qwen3).
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources
from pathlib import Path

__all__ = ["build_tiny_model", "build_tokenizer"]

SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<tool_call>", "</tool_call>", "<tool_response>",
           "</tool_response>", "<think>", "</think>"]


def build_tokenizer(out: Path, texts: Iterable[str], vocab_size: int = 2000) -> Path:
    """Write a byte-level BPE tokenizer with Qwen's special tokens and TRL's qwen3 template to ``out``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(list(texts) + ["{\"name\": \"submit\", \"arguments\": {}}"], trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   bos_token=None, unk_token=None, additional_special_tokens=SPECIAL[1:])
    fast.chat_template = (resources.files("trl") / "chat_templates" / "qwen3.jinja").read_text()
    out.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(out)
    return out


def build_tiny_model(out: Path, texts: Iterable[str], vocab_size: int = 2000, hidden: int = 64, layers: int = 2,
                     head_dim: int = 16, dtype: str = "float32") -> Path:
    """Write a tokenizer + random Qwen3ForCausalLM to ``out`` (a ``from_pretrained`` folder), saved in ``dtype``."""
    import torch
    from transformers import AutoTokenizer, Qwen3Config, Qwen3ForCausalLM

    fast = AutoTokenizer.from_pretrained(build_tokenizer(out, texts, vocab_size))
    heads = max(1, hidden // head_dim)
    config = Qwen3Config(vocab_size=len(fast), hidden_size=hidden, intermediate_size=hidden * 2,
                         num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=max(1, heads // 2),
                         head_dim=head_dim, max_position_embeddings=8192, tie_word_embeddings=True,
                         eos_token_id=fast.convert_tokens_to_ids("<|im_end|>"),
                         pad_token_id=fast.convert_tokens_to_ids("<|endoftext|>"))
    Qwen3ForCausalLM(config).to(getattr(torch, dtype)).save_pretrained(out)
    return out
