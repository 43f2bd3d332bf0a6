"""The widgets of the TUI, one per module, each with its own CSS."""
