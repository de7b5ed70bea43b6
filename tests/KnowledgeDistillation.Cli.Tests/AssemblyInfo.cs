// libtorch's random generator is process-global: tests that seed it and check exact reproducibility (resume,
// determinism) must not interleave with other tests drawing from it, so this assembly runs tests one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
