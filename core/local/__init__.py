"""The local backend: jina-embeddings-v3 in torch on this machine.

- ``model.py``: the compact model (XLM-RoBERTa body, rotary positions, task LoRA), packed
  sequences without padding.
- ``checkpoint.py``: finding and loading the weights (a local folder, or the hub; safetensors
  only, never remote code) and the tokenizer.
- ``backend.py``: :class:`LocalBackend`, which turns requests into token sequences, runs the
  model in token-budgeted batches and pools (mean, late chunking, long-document windows).

May import: the foundations (``jina_v3.errors``, ``types``, ``tasks``, ``options``, ``_encoding``,
``_packing``). Nothing here imports ``remote``, ``server``, ``index``, ``cli`` or ``distributed``.
"""
