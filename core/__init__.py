"""The leaf layer every package may import: the torch-free registry and settings
(`registry`), the record schema (`records`) and the MAC counter (`flops`). It imports nothing of
`bench`, `methods` or `tasks` (tests/core/test_layering.py)."""
