"""Candidate index for one-to-many search (1:N identification).

:class:`CandidateIndex` shortlists enrolled fingers for a probe from binary codes of its
minutiae' cylinders held in a faiss binary index; :class:`ShardedIndex` keeps one such index
per finger position, each in its own folder; :class:`JointIndexes` searches several indexes
that share their coarse centroids as one. :func:`afis.identify` re-ranks a shortlist with
the matcher.
"""

from afis.index.candidate import CandidateIndex, IndexOptions, JointIndexes, shared_encoding
from afis.index.sharded import ShardedIndex

__all__ = ["CandidateIndex", "IndexOptions", "JointIndexes", "ShardedIndex", "shared_encoding"]
