"""The in-tree plugins, one module per plugin, with upstream's names and behaviour."""
