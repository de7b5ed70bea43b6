namespace KnowledgeDistillation.Cli.Distill;

/// <summary>
/// What <c>kd distill</c> keeps next to a finished student's weights (<c>student-…-seedN.json</c> beside
/// <c>student-…-seedN.weights</c>, both written atomically, the weights first), so that a rerun with the same options
/// skips the student and reports the same results: the key of everything its training depended on, the SHA-256 of the
/// weights file it belongs to, and its measured results.
/// </summary>
/// <param name="Format">The record's format version.</param>
/// <param name="Key">SHA-256 of the options, data, teacher and library versions the student was trained with.</param>
/// <param name="Options">The same in words, for a person reading the folder.</param>
/// <param name="WeightsSha256">SHA-256 of the whole weights file.</param>
/// <param name="Accuracy">Test accuracy.</param>
/// <param name="ExpectedCalibrationError">Test expected calibration error.</param>
/// <param name="TrainSeconds">Training time of the run that trained it.</param>
/// <param name="SizeBytes">The weights file's size.</param>
internal sealed record StudentRecord(int Format, string Key, string Options, string WeightsSha256, double Accuracy, double ExpectedCalibrationError, double TrainSeconds, long SizeBytes)
{
    /// <summary>The format version this tool writes and reads.</summary>
    public const int CurrentFormat = 1;
}
