"""Text-agent policies: the :class:`TextPolicy` interface (``act`` / ``evaluate`` over :class:`Turn` and
:class:`Choice`) and :class:`CausalLMPolicy`, a transformers causal LM behind it (``pip install
"sparsegym[lm]"``)."""

from sparsegym._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "Turn": ".policy", "Choice": ".policy", "TextPolicy": ".policy",
    **dict.fromkeys(("CausalLMPolicy", "parse_response", "match_action", "tiny_causal_lm"), ".lm_policy"),
})
