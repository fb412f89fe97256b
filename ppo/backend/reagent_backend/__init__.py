"""reagent_backend: the PPO/GRPO trainer and policy server of reagent.

PyTorch is the only hard dependency. ``transformers`` (and ``peft`` for LoRA)
are used when installed, to serve and train Hugging Face models. The built-in
"tiny" model (docs/tiny-model.md) needs nothing beyond torch.
"""

__version__ = "0.1.0"
