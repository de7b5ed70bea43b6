namespace KnowledgeDistillation.Kernels;

/// <summary>What a <see cref="SoftmaxJob"/> writes.</summary>
internal enum SoftmaxMode
{
    Softmax,
    LogSoftmax,
    LogSumExp,
}
