ShardedIndex = None
