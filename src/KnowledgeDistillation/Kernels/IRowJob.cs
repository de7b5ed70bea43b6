namespace KnowledgeDistillation.Kernels;

/// <summary>The work for one row of a batch kernel; rows are independent, so any schedule gives the same per-row results.</summary>
internal interface IRowJob
{
    RowLoss Run(int row);
}
