"""The index folder on disk, its one owner: manifest, files and commit, segments, metadata, update policy.

- ``manifest``: manifest.json (``Manifest``, ``SegmentEntry``), its checksum, reading and verifying it.
- ``files``: the write lock, generation folders, hard links, commit, fsync, leftovers of crashes.
- ``segment``: the one list of a segment's file names; writing and opening a segment.
- ``metadata``: the SQLite metadata of each segment and of all segments read as one.
- ``update``: the incremental policy (what an update reads, keeps, merges, reuses) and the build.

One vocabulary for segments read together, in every stage: ``XPart`` is one segment's
structure placed among all rows (``DensePart``, ``LexicalPart``, ``MetadataPart``), and
``XSegments`` is every segment read as one (``DenseSegments``, ``VectorSegments``,
``LexicalSegments``, ``MetadataSegments``), in which removed documents are invisible.
"""
