"""Pruning Lab's Gradio side: sessions, event handlers, views and plots (the engine is in `pruning`)."""
