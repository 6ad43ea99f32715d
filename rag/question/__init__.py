"""What a question asks: its focus terms, its kind and parts, and follow-ups rewritten with the conversation."""
