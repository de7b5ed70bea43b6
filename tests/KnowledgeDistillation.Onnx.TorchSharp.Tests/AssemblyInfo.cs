// libtorch's random generator is process-global and the models are trained with fixed seeds: run tests one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
