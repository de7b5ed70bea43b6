using KnowledgeDistillation.Data;

namespace KnowledgeDistillation.Datasets;

/// <summary>
/// Loads Fashion-MNIST (Zalando, MIT licence): 60,000 training and 10,000 test images of 28×28 pixels in 10 classes.
/// </summary>
/// <remarks>
/// On Debian the data comes from the package <c>dataset-fashion-mnist</c>, which installs the four IDX files under
/// <see cref="DefaultDirectory"/>. Set the environment variable <c>KD_FASHION_MNIST_DIR</c> to use another folder.
/// </remarks>
public static class FashionMnist
{
    /// <summary>Where Debian's <c>dataset-fashion-mnist</c> package installs the files.</summary>
    public const string DefaultDirectory = "/usr/share/datasets/fashion-mnist";

    /// <summary>The environment variable that overrides <see cref="DefaultDirectory"/>.</summary>
    public const string DirectoryVariable = "KD_FASHION_MNIST_DIR";

    /// <summary>Number of classes.</summary>
    public const int ClassCount = 10;

    /// <summary>Class names, by label.</summary>
    public static IReadOnlyList<string> ClassNames { get; } =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    /// <summary>The folder used when none is given: <c>KD_FASHION_MNIST_DIR</c> if set, else <see cref="DefaultDirectory"/>.</summary>
    public static string ResolveDirectory(string? directory = null)
    {
        if (!string.IsNullOrEmpty(directory))
        {
            return directory;
        }
        string? fromEnvironment = Environment.GetEnvironmentVariable(DirectoryVariable);
        return string.IsNullOrEmpty(fromEnvironment) ? DefaultDirectory : fromEnvironment;
    }

    /// <summary>Loads the training (60,000) or test (10,000) split.</summary>
    /// <param name="split">Which split.</param>
    /// <param name="directory">The folder with the IDX files; see <see cref="ResolveDirectory"/>.</param>
    /// <exception cref="FileNotFoundException">The files are missing; the message says how to install them.</exception>
    /// <exception cref="InvalidDataException">A file is corrupt, or image and label counts differ.</exception>
    public static LabeledImageSet Load(DataSplit split, string? directory = null)
    {
        string folder = ResolveDirectory(directory);
        string prefix = split == DataSplit.Train ? "train" : "t10k";
        string images = FindFile(folder, $"{prefix}-images-idx3-ubyte");
        string labels = FindFile(folder, $"{prefix}-labels-idx1-ubyte");
        return Load(images, labels, ClassCount);
    }

    /// <summary>Loads an image/label pair of IDX files into a <see cref="LabeledImageSet"/> with pixels scaled to [0, 1].</summary>
    /// <exception cref="InvalidDataException">A file is corrupt, or the image and label counts differ.</exception>
    public static LabeledImageSet Load(string imagesPath, string labelsPath, int classCount)
    {
        IdxArray images = IdxReader.ReadImages(imagesPath);
        byte[] labelBytes = IdxReader.ReadLabels(labelsPath);
        if (images.Shape[0] != labelBytes.Length)
        {
            throw new InvalidDataException(
                $"Image/label count mismatch: '{imagesPath}' holds {images.Shape[0]} images but '{labelsPath}' holds {labelBytes.Length} labels.");
        }
        var pixels = new float[images.Data.Length];
        for (int i = 0; i < pixels.Length; i++)
        {
            pixels[i] = images.Data[i] / 255f;
        }
        var labels = new int[labelBytes.Length];
        for (int i = 0; i < labels.Length; i++)
        {
            if (labelBytes[i] >= classCount)
            {
                throw new InvalidDataException($"IDX file '{labelsPath}' has label {labelBytes[i]} at index {i}, outside [0, {classCount}).");
            }
            labels[i] = labelBytes[i];
        }
        return new LabeledImageSet(pixels, labels, images.Shape[1], images.Shape[2], classCount, Path.GetFileName(imagesPath));
    }

    private static string FindFile(string folder, string stem)
    {
        foreach (string candidate in new[] { stem + ".gz", stem })
        {
            string path = Path.Combine(folder, candidate);
            if (File.Exists(path))
            {
                return path;
            }
        }
        throw new FileNotFoundException(
            $"Fashion-MNIST file '{stem}(.gz)' was not found in '{folder}'. On Debian/Ubuntu install it with " +
            $"'sudo apt-get install dataset-fashion-mnist', or set {DirectoryVariable} to a folder holding the four IDX files.",
            Path.Combine(folder, stem + ".gz"));
    }
}
