"""zoo_classify: the classification task (train, validate, keep the best, test per class, show it)."""
