"""The language every stage reads: sentences, chunks, words, boilerplate lines, languages."""
