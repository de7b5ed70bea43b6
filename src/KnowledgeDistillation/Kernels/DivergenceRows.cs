using KnowledgeDistillation.Kernels.Rows;

namespace KnowledgeDistillation.Kernels;

/// <summary>
/// The per-row math of the dense divergences. Every function returns the row's loss in double (before T² and the
/// normalizer) and, when a gradient row is given, writes d(loss · scale)/d(student logits) with gradientScale = scale / T.
/// Rows with a non-finite element return NaN at once when checkFinite is set (the caller then throws).
/// </summary>
internal static class DivergenceRows
{
    internal static float Max(ReadOnlySpan<float> values, out float finiteProbe)
    {
        var pass = new MaxPass(values);
        RowPassRunner.Run(ref pass, values.Length);
        finiteProbe = pass.FiniteProbe;
        return pass.Max;
    }

    /// <summary>Both row maxima in one pass; returns the non-finite probe (finite exactly when both rows are).</summary>
    internal static float MaxPair(ReadOnlySpan<float> student, ReadOnlySpan<float> teacher, out float studentMax, out float teacherMax)
    {
        var pass = new MaxPairPass(student, teacher);
        RowPassRunner.Run(ref pass, student.Length);
        studentMax = pass.FirstMax;
        teacherMax = pass.SecondMax;
        return pass.FiniteProbe;
    }

    internal static double SumExp(ReadOnlySpan<float> values, float scale, float shift)
    {
        var pass = new SumExpPass(values, scale, shift);
        RowPassRunner.Run(ref pass, values.Length);
        return pass.Sum;
    }

    /// <summary>Forward KL(p_t ‖ p_s), or the soft-target cross-entropy; both have gradient (p_s − p_t)/T.</summary>
    internal static double Forward(ReadOnlySpan<float> student, ReadOnlySpan<float> teacher, float inverseTemperature, bool crossEntropy, bool checkFinite, float gradientScale, Span<float> gradient)
    {
        float probe = DivergenceRows.MaxPair(student, teacher, out float studentMax, out float teacherMax);
        if (checkFinite && !float.IsFinite(probe))
        {
            return double.NaN;
        }

        // With a gradient, the sums pass keeps both rows' exponentials (e^b in the gradient row, e^a in a per-thread
        // scratch row), so the gradient sweep is pure multiply-adds: two exps per element in all instead of three.
        Span<float> teacherExponentials = gradient.IsEmpty ? default : RowScratch.Get(student.Length);
        var sums = new PairSumsPass(teacher, student, inverseTemperature, teacherMax, studentMax, gradient, teacherExponentials);
        RowPassRunner.Run(ref sums, student.Length);
        double logTeacherSum = Math.Log(sums.ReferenceSum);
        double logStudentSum = Math.Log(sums.OtherSum);
        double loss = crossEntropy
            ? logStudentSum - (sums.ReferenceDotOther / sums.ReferenceSum)
            : (sums.Cross / sums.ReferenceSum) - logTeacherSum + logStudentSum;

        if (!gradient.IsEmpty)
        {
            var pass = new FinishProbabilityDifferencePass(
                teacherExponentials, gradient, (float)(gradientScale / sums.OtherSum), (float)(gradientScale / sums.ReferenceSum));
            RowPassRunner.Run(ref pass, student.Length);
        }

        return loss;
    }

    /// <summary>Reverse KL(p_s ‖ p_t); gradient p_s (d − E_ps[d]) / T with d = log p_s − log p_t.</summary>
    internal static double Reverse(ReadOnlySpan<float> student, ReadOnlySpan<float> teacher, float inverseTemperature, bool checkFinite, float gradientScale, Span<float> gradient)
    {
        float probe = DivergenceRows.MaxPair(student, teacher, out float studentMax, out float teacherMax);
        if (checkFinite && !float.IsFinite(probe))
        {
            return double.NaN;
        }

        var sums = new PairSumsPass(student, teacher, inverseTemperature, studentMax, teacherMax);
        RowPassRunner.Run(ref sums, student.Length);
        double meanShiftedDifference = sums.Cross / sums.ReferenceSum;
        double loss = meanShiftedDifference - Math.Log(sums.ReferenceSum) + Math.Log(sums.OtherSum);

        if (!gradient.IsEmpty)
        {
            var pass = new ReverseKlGradientPass(
                student, teacher, gradient, inverseTemperature, studentMax, teacherMax,
                (float)(gradientScale / sums.ReferenceSum), (float)-meanShiftedDifference);
            RowPassRunner.Run(ref pass, student.Length);
        }

        return loss;
    }

    /// <summary>Generalised JSD(β), 0 &lt; β &lt; 1, mixture built in log space; gradient (1−β) p_s (h − E_ps[h]) / T with h = log p_s − log M.</summary>
    internal static double JensenShannon(ReadOnlySpan<float> student, ReadOnlySpan<float> teacher, float inverseTemperature, float beta, bool checkFinite, float gradientScale, Span<float> gradient)
    {
        float probe = DivergenceRows.MaxPair(student, teacher, out float studentMax, out float teacherMax);
        if (checkFinite && !float.IsFinite(probe))
        {
            return double.NaN;
        }

        double studentSum = SumExp(student, inverseTemperature, studentMax);
        double teacherSum = SumExp(teacher, inverseTemperature, teacherMax);

        // Offsets that make (s - max)/T + offset the normalised log-probabilities.
        float studentOffset = (float)-Math.Log(studentSum);
        float teacherOffset = (float)-Math.Log(teacherSum);
        var lossPass = new JensenShannonLossPass(student, teacher, gradient, inverseTemperature, studentMax, teacherMax, studentOffset, teacherOffset, beta);
        RowPassRunner.Run(ref lossPass, student.Length);

        if (!gradient.IsEmpty)
        {
            var pass = new JensenShannonGradientPass(student, gradient, inverseTemperature, studentMax, studentOffset, gradientScale * (1f - beta), (float)lossPass.Centre);
            RowPassRunner.Run(ref pass, student.Length);
        }

        return lossPass.Loss;
    }
}
