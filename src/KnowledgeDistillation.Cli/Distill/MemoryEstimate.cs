using System.Globalization;

namespace KnowledgeDistillation.Cli.Distill;

/// <summary>
/// A lower bound of the memory a <c>kd distill</c> configuration needs, checked against <see cref="MemoryLimit"/> before
/// anything trains, so that a configuration that cannot fit is refused with the estimate and the limit instead of dying in
/// native code. Counted in float32 values:
/// <list type="bullet">
/// <item>the data: training and test images and labels;</item>
/// <item>training a model: its parameters four times (weights, gradients, AdamW's two moments) and, per image of a batch,
/// every layer's output twice (kept for the backward pass, and its gradient);</item>
/// <item>a live teacher during a student's training: its weights (every member of an ensemble) and, per image, its largest
/// layer output twice (inference without gradients holds a layer's input and output);</item>
/// <item>the runtime (.NET, libtorch): 256 MiB.</item>
/// </list>
/// The peak is the data and the runtime plus the larger of the teacher's training (when it is not cached) and a student's.
/// Temporaries of the kernels and the allocator's slack are not counted: what is refused certainly does not fit.
/// </summary>
/// <param name="Bytes">The estimated peak.</param>
/// <param name="Parts">The peak's parts, for the message.</param>
/// <param name="LargestBatch">The largest batch size whose estimate fits the limit it was computed for (0: none; the models alone do not fit).</param>
internal sealed record MemoryEstimate(long Bytes, IReadOnlyList<(string Part, long Bytes)> Parts, long LargestBatch)
{
    /// <summary>.NET and libtorch themselves.</summary>
    public const long RuntimeBytes = 256L << 20;

    private const long Float = sizeof(float);

    /// <summary>The inputs of one estimate.</summary>
    /// <param name="BatchSize">Images per step (at most the training images); 0 counts the models and the data only.</param>
    /// <param name="TrainImages">Training images.</param>
    /// <param name="TestImages">Test images.</param>
    /// <param name="PixelsPerImage">Values per image.</param>
    /// <param name="Teacher">The teacher's size; its activations are used only when <paramref name="TrainTeacher"/> or <paramref name="LiveTeacher"/>.</param>
    /// <param name="TeacherMembers">Teachers held at once (an ensemble's members).</param>
    /// <param name="TrainTeacher">Whether a teacher is trained in this run (none is cached).</param>
    /// <param name="LiveTeacher">Whether the teacher runs inside the students' steps (not read from a teacher cache).</param>
    /// <param name="Student">The student's size.</param>
    internal sealed record Inputs(
        long BatchSize, long TrainImages, long TestImages, long PixelsPerImage, ModelFootprint Teacher, int TeacherMembers, bool TrainTeacher, bool LiveTeacher, ModelFootprint Student);

    /// <summary>The estimate for <paramref name="inputs"/>, and the largest batch size that fits <paramref name="limitBytes"/>.</summary>
    public static MemoryEstimate For(Inputs inputs, long limitBytes)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        long batch = Math.Max(0, Math.Min(inputs.BatchSize, inputs.TrainImages));
        long data = (inputs.TrainImages + inputs.TestImages) * ((inputs.PixelsPerImage * Float) + sizeof(int));
        long fixedBytes = RuntimeBytes + data;

        // Per phase: bytes that do not depend on the batch, and bytes per image of a batch.
        (long Fixed, long PerImage) teacherPhase = inputs.TrainTeacher
            ? (4 * Float * inputs.Teacher.Parameters, Float * (inputs.PixelsPerImage + (2 * inputs.Teacher.ActivationsPerSample)))
            : (0, 0);
        long teacherWeights = inputs.TeacherMembers * Float * inputs.Teacher.Parameters;
        (long Fixed, long PerImage) studentPhase = (
            (4 * Float * inputs.Student.Parameters) + teacherWeights,
            Float * (inputs.PixelsPerImage + (2 * inputs.Student.ActivationsPerSample) + (inputs.LiveTeacher ? 2 * inputs.Teacher.LargestActivationPerSample : 0)));

        long teacherTotal = teacherPhase.Fixed + (batch * teacherPhase.PerImage);
        long studentTotal = studentPhase.Fixed + (batch * studentPhase.PerImage);
        var parts = new List<(string, long)> { ("runtime", RuntimeBytes), ("data", data) };
        if (inputs.TrainTeacher && teacherTotal >= studentTotal)
        {
            parts.Add(("teacher training: weights, gradients and AdamW moments", teacherPhase.Fixed));
            if (batch > 0)
            {
                parts.Add((Invariant($"teacher training: activations of {batch} images"), batch * teacherPhase.PerImage));
            }
        }
        else
        {
            parts.Add(("student training: weights, gradients and AdamW moments", 4 * Float * inputs.Student.Parameters));
            if (teacherWeights > 0)
            {
                parts.Add((inputs.TeacherMembers > 1 ? Invariant($"{inputs.TeacherMembers} teachers' weights") : "teacher weights", teacherWeights));
            }
            if (batch > 0)
            {
                parts.Add((Invariant($"student training: activations of {batch} images"), batch * studentPhase.PerImage));
            }
        }

        long largest = long.MaxValue;
        foreach ((long fixedPart, long perImage) in new[] { teacherPhase, studentPhase })
        {
            if (perImage > 0)
            {
                long room = limitBytes - fixedBytes - fixedPart;
                largest = Math.Min(largest, room <= 0 ? 0 : room / perImage);
            }
        }
        return new MemoryEstimate(fixedBytes + Math.Max(teacherTotal, studentTotal), parts, Math.Min(largest, int.MaxValue));
    }

    /// <summary>The parts, for the message: "data 0.2 GiB, …".</summary>
    public string DescribeParts() => string.Join(", ", Parts.Select(p => Invariant($"{p.Part} {Gib(p.Bytes)}")));

    /// <summary>Bytes in GiB with one decimal (two below 1 GiB).</summary>
    public static string Gib(long bytes)
    {
        double gib = bytes / (double)(1L << 30);
        return gib >= 1 ? Invariant($"{gib:F1} GiB") : Invariant($"{gib:F2} GiB");
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
