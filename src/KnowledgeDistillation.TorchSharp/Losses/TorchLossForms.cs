using KnowledgeDistillation.Kernels;
using KnowledgeDistillation.Losses;
using KnowledgeDistillation.Sequences;
using KnowledgeDistillation.TorchSharp.LanguageModels;
using KnowledgeDistillation.TorchSharp.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace KnowledgeDistillation.TorchSharp.Losses;

internal sealed class TorchHardLabelLoss(HardLabelLoss loss) : TorchFormLoss(loss)
{
    public override TorchLossValue ComputeOnDevice(in TorchLossInputs inputs)
    {
        Tensor ce = TorchRows.CrossEntropy(inputs.StudentLogits, inputs.Labels, inputs.Mask, inputs.Normalizer);
        return new TorchLossValue(ce, new Dictionary<string, Tensor> { ["ce"] = ce }, TorchRows.NoParameters);
    }
}

internal sealed class TorchHintonLoss(HintonDistillationLoss loss) : TorchFormLoss(loss)
{
    public override TorchLossValue ComputeOnDevice(in TorchLossInputs inputs)
    {
        Tensor teacher = TorchRows.RequireDense(inputs, Name);
        float alpha = TorchRows.Alpha(loss.Alpha.ValueAt(inputs.Step, inputs.TotalSteps));
        float t = TorchRows.Temperature(loss.Temperature.ValueAt(inputs.Step, inputs.TotalSteps));
        using Scalar temperature = t.ToScalar();
        Tensor logPs = nn.functional.log_softmax(inputs.StudentLogits.div(temperature), 1);
        Tensor logPt = nn.functional.log_softmax(teacher.div(temperature), 1);
        // TorchSharp's kl_div defaults to log_target = true (PyTorch's to false) and has no batchmean: rows, then Σ / normalizer.
        Tensor kdRows = nn.functional.kl_div(logPs, logPt, reduction: nn.Reduction.None, log_target: true).sum(1);
        Tensor kd = TorchRows.Sum(kdRows, inputs.Mask, (double)t * t / inputs.Normalizer);
        Tensor ce = TorchRows.CrossEntropy(inputs.StudentLogits, inputs.Labels, inputs.Mask, inputs.Normalizer);
        return new TorchLossValue(
            TorchRows.Weighted(kd, alpha, ce, 1 - alpha),
            new Dictionary<string, Tensor> { ["kd"] = kd, ["ce"] = ce },
            new Dictionary<string, float> { ["alpha"] = alpha, ["temperature"] = t });
    }
}

internal sealed class TorchSoftTargetLoss(SoftTargetLoss loss) : TorchFormLoss(loss)
{
    public override TorchLossValue ComputeOnDevice(in TorchLossInputs inputs)
    {
        Tensor teacher = TorchRows.RequireDense(inputs, Name);
        float t = TorchRows.Temperature(loss.Temperature.ValueAt(inputs.Step, inputs.TotalSteps));
        using Scalar temperature = t.ToScalar();
        Tensor logPs = nn.functional.log_softmax(inputs.StudentLogits.div(temperature), 1);
        Tensor logPt = nn.functional.log_softmax(teacher.div(temperature), 1);
        Tensor rows = TorchSequenceLosses.RowDivergence(logPt, logPs, loss.Kind, loss.JsdBeta);
        double scale = (loss.ScaleByTemperatureSquared ? (double)t * t : 1d) / inputs.Normalizer;
        Tensor value = TorchRows.Sum(rows, inputs.Mask, scale);
        return new TorchLossValue(value, new Dictionary<string, Tensor> { [Name] = value }, new Dictionary<string, float> { ["temperature"] = t });
    }
}

internal sealed class TorchTopKHintonLoss(TopKHintonDistillationLoss loss) : TorchFormLoss(loss)
{
    public override TorchLossValue ComputeOnDevice(in TorchLossInputs inputs)
    {
        float alpha = TorchRows.Alpha(loss.Alpha.ValueAt(inputs.Step, inputs.TotalSteps));
        float t = TorchRows.Temperature(loss.Temperature.ValueAt(inputs.Step, inputs.TotalSteps));
        Tensor indices, values;
        TopKValueKind kind;
        if (inputs.TeacherTopKIndices is { } i && inputs.TeacherTopKValues is { } v)
        {
            (indices, values, kind) = (i, v.detach(), inputs.TeacherTopKValueKind);
        }
        else
        {
            Tensor dense = TorchRows.RequireDense(inputs, Name);
            (values, indices) = dense.topk(Math.Min(loss.TopK, inputs.ClassCount), 1);
            kind = TopKValueKind.Logits;
        }
        TopKMassTreatment treatment = TopKMassPolicy.Resolve(loss.Treatment, kind);
        if (kind == TopKValueKind.LogProbabilities && t != 1f)
        {
            // As the fused form: log-probabilities stored at T = 1 are re-tempered over the k entries and renormalised.
            using Scalar temperature = t.ToScalar();
            values = TorchSequenceLosses.StableLogSoftmax(values.div(temperature));
            treatment = TopKMassTreatment.Renormalize;
        }
        var options = new SequenceLossOptions { Kind = DivergenceKind.ForwardKl, Temperature = t, TopKTreatment = treatment };
        Tensor mask = (inputs.Mask ?? torch.ones(inputs.StudentLogits.shape[0], dtype: ScalarType.Bool, device: inputs.StudentLogits.device)).unsqueeze(0);
        Tensor kd = TorchSequenceLosses.SparseTopK(
            inputs.StudentLogits.unsqueeze(0), indices.unsqueeze(0), values.unsqueeze(0), kind, mask, options, inputs.Normalizer, LogitLossPath.TorchOperations);
        Tensor ce = TorchRows.CrossEntropy(inputs.StudentLogits, inputs.Labels, inputs.Mask, inputs.Normalizer);
        return new TorchLossValue(
            TorchRows.Weighted(kd, alpha, ce, 1 - alpha),
            new Dictionary<string, Tensor> { ["kd"] = kd, ["ce"] = ce },
            new Dictionary<string, float> { ["alpha"] = alpha, ["temperature"] = t });
    }
}

internal sealed class TorchCompositeLoss(CompositeDistillationLoss composite, ITorchLogitLoss[] terms) : TorchFormLoss(composite)
{
    public override string? TorchOperationsUnavailableReason => terms.Select(t => t.TorchOperationsUnavailableReason).FirstOrDefault(r => r is not null);

    public override TorchLossValue ComputeOnDevice(in TorchLossInputs inputs)
    {
        var values = new Dictionary<string, Tensor>();
        var parameters = new Dictionary<string, float>();
        Tensor? total = null;
        for (int i = 0; i < terms.Length; i++)
        {
            float weight = composite.WeightAt(i, inputs.Step, inputs.TotalSteps);
            TorchLossValue value = terms[i].ComputeOnDevice(inputs);
            using Scalar w = weight.ToScalar();
            Tensor weighted = value.Loss.mul(w);
            total = total is null ? weighted : total.add(weighted, Runtime.TorchScalars.One);
            string name = terms[i].Name;
            values[name] = value.Loss;
            parameters[$"{name}.weight"] = weight;
            foreach ((string key, Tensor v) in value.Terms)
            {
                if (key != name)
                {
                    values[$"{name}.{key}"] = v;
                }
            }
            foreach ((string key, float v) in value.Parameters)
            {
                parameters[$"{name}.{key}"] = v;
            }
        }
        return new TorchLossValue(total!, values, parameters);
    }
}
