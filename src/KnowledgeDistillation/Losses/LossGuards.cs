using KnowledgeDistillation.Abstractions;

namespace KnowledgeDistillation.Losses;

internal static class LossGuards
{
    public static float Alpha(float alpha, string name)
    {
        if (!(alpha >= 0 && alpha <= 1))
        {
            throw new ArgumentOutOfRangeException(name, alpha, $"α ({name}) must be in [0, 1]; it weighs the distillation term against the hard-label term.");
        }
        return alpha;
    }

    public static float Temperature(float temperature, string name)
    {
        if (!(temperature > 0) || !float.IsFinite(temperature))
        {
            throw new ArgumentOutOfRangeException(name, temperature, $"The temperature ({name}) must be a positive, finite number (typical values 1 to 8).");
        }
        return temperature;
    }

    /// <summary>Checks that dense teacher logits of the student's width are present.</summary>
    public static void RequireDenseTeacher(in LossInputs inputs, string loss)
    {
        if (!inputs.HasDenseTeacher && inputs.HasTopKTeacher)
        {
            throw new ArgumentException($"Loss '{loss}' needs dense teacher logits, but the teacher targets are top-k (k = {inputs.TeacherTopK}). Use TopKHintonDistillationLoss (recipe name hinton-topk), or a dense (float32/float16) teacher cache.", "inputs");
        }
        if (!inputs.HasDenseTeacher)
        {
            throw new ArgumentException($"Loss '{loss}' needs teacher logits, but none were given. Configure a teacher or use a hard-label loss.", "inputs");
        }
        RequireSameWidth(inputs, loss);
    }

    public static void RequireSameWidth(in LossInputs inputs, string loss)
    {
        if (inputs.TeacherClassCount != inputs.ClassCount)
        {
            throw new ArgumentException(
                $"Loss '{loss}' compares teacher and student over the same classes, but the teacher has {inputs.TeacherClassCount} and the student {inputs.ClassCount}. For language models whose vocabularies differ use the token-level loss (TokenDistillationLoss) with a vocabulary size or token mapping.",
                "inputs");
        }
    }

    /// <summary>The accepted targets of a sum of terms: what every term that needs a teacher accepts.</summary>
    public static TeacherTargetKinds Intersect(IEnumerable<IDistillationLoss> losses)
    {
        TeacherTargetKinds accepted = TeacherTargetKinds.DenseLogits | TeacherTargetKinds.TopK;
        bool any = false;
        foreach (IDistillationLoss loss in losses)
        {
            if (loss.AcceptedTargets != TeacherTargetKinds.None)
            {
                accepted &= loss.AcceptedTargets;
                any = true;
            }
        }
        return any ? accepted : TeacherTargetKinds.None;
    }
}
