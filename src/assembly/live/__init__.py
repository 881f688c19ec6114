"""Real time: channels topics, WebSocket handlers and the fragments pushed to screens."""
