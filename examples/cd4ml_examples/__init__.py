"""Step code of the cd4ml example pipelines (the training seed's breast-cancer random forest)."""
