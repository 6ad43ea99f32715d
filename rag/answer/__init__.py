"""From candidates to a cited answer or an abstention, and citation lookup (the claim comparison)."""
