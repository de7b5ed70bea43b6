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

    public static void RequireTeacher(in LossInputs inputs, string loss)
    {
        if (!inputs.HasTeacher && inputs.HasTopKTeacher)
        {
            throw new ArgumentException($"Loss '{loss}' needs dense teacher logits, but the teacher targets are top-k (k = {inputs.TeacherTopK}). Use TopKHintonDistillationLoss, or a dense (float32/float16) teacher cache.", "inputs");
        }
        if (!inputs.HasTeacher)
        {
            throw new ArgumentException($"Loss '{loss}' needs teacher logits, but none were given. Configure a teacher or use a hard-label loss.", "inputs");
        }
    }
}
