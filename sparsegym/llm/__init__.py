"""Language-model tools: a local OpenAI-compatible server and a GGUF exporter (placeholder; replaced at merge)."""
