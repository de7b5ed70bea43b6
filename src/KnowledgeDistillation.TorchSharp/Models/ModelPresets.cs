using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace KnowledgeDistillation.TorchSharp.Models;

/// <summary>
/// Builds teacher/student architectures from short specifications, for images <c>[channels, height, width]</c>:
/// <list type="bullet">
/// <item><c>mlp:H1,H2,…</c> — flatten, then Linear+ReLU layers of the given widths, then the classifier
///   (layers <c>flatten</c>, <c>fc1</c>, <c>relu1</c>, …, <c>logits</c>). Option <c>dropout=P</c> adds dropout after each hidden layer.</item>
/// <item><c>cnn:C1,C2,…</c> — one block per width: conv3×3 (padding 1) [+ BatchNorm] + ReLU + max-pool 2×2
///   (layers <c>block1</c>, <c>block2</c>, …), then <c>flatten</c>, an optional hidden layer (<c>fc</c>, <c>relu</c>), and <c>logits</c>.
///   Options: <c>bn</c> (batch norm), <c>hidden=H</c>, <c>dropout=P</c>.</item>
/// </list>
/// Options follow a second colon, comma-separated: <c>cnn:32,64,128:bn,hidden=256</c>.
/// </summary>
public static class ModelPresets
{
    /// <summary>Builds the model. Call <c>torch.manual_seed</c> first for reproducible initial weights.</summary>
    /// <exception cref="FormatException">The specification is malformed; the message shows the accepted forms.</exception>
    public static SequentialClassifier Create(string spec, IReadOnlyList<int> inputShape, int classes)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(spec);
        ArgumentNullException.ThrowIfNull(inputShape);
        if (inputShape.Count != 3 || inputShape.Any(d => d < 1))
        {
            throw new ArgumentException($"Input shape must be [channels, height, width] with positive sizes (was [{string.Join(", ", inputShape)}]).", nameof(inputShape));
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 2);
        string[] parts = spec.Trim().Split(':');
        if (parts.Length is < 2 or > 3)
        {
            throw Malformed(spec, "expected KIND:WIDTHS[:OPTIONS]");
        }
        int[] widths;
        try
        {
            widths = parts[1].Split(',', StringSplitOptions.RemoveEmptyEntries).Select(w => int.Parse(w, NumberStyles.None, CultureInfo.InvariantCulture)).ToArray();
        }
        catch (Exception ex) when (ex is FormatException or OverflowException)
        {
            throw Malformed(spec, $"'{parts[1]}' is not a comma-separated list of positive widths (each at most {int.MaxValue})");
        }
        if (widths.Length == 0 || widths.Any(w => w < 1))
        {
            throw Malformed(spec, "widths must be positive integers");
        }
        var options = ParseOptions(spec, parts.Length == 3 ? parts[2] : "");
        return parts[0].ToLowerInvariant() switch
        {
            "mlp" => Mlp(spec, widths, inputShape, classes, options),
            "cnn" => Cnn(spec, widths, inputShape, classes, options),
            _ => throw Malformed(spec, $"unknown kind '{parts[0]}'"),
        };
    }

    private static SequentialClassifier Mlp(string spec, int[] widths, IReadOnlyList<int> shape, int classes, Options o)
    {
        var layers = new List<(string, nn.Module<Tensor, Tensor>)> { ("flatten", nn.Flatten()) };
        long inputs = (long)shape[0] * shape[1] * shape[2];
        for (int i = 0; i < widths.Length; i++)
        {
            layers.Add(($"fc{i + 1}", nn.Linear(inputs, widths[i])));
            layers.Add(($"relu{i + 1}", nn.ReLU()));
            if (o.Dropout > 0)
            {
                layers.Add(($"dropout{i + 1}", nn.Dropout(o.Dropout)));
            }
            inputs = widths[i];
        }
        layers.Add(("logits", nn.Linear(inputs, classes)));
        return new SequentialClassifier(spec, layers);
    }

    private static SequentialClassifier Cnn(string spec, int[] widths, IReadOnlyList<int> shape, int classes, Options o)
    {
        var layers = new List<(string, nn.Module<Tensor, Tensor>)>();
        int channels = shape[0], h = shape[1], w = shape[2];
        for (int i = 0; i < widths.Length; i++)
        {
            if (h < 2 || w < 2)
            {
                throw Malformed(spec, $"{widths.Length} pooling blocks shrink a {shape[1]}×{shape[2]} input below 1×1; use fewer blocks");
            }
            var block = new List<(string, nn.Module<Tensor, Tensor>)>
            {
                ("conv", nn.Conv2d(channels, widths[i], 3, padding: 1, bias: !o.BatchNorm)),
            };
            if (o.BatchNorm)
            {
                block.Add(("bn", nn.BatchNorm2d(widths[i])));
            }
            block.Add(("relu", nn.ReLU()));
            block.Add(("pool", nn.MaxPool2d(2)));
            layers.Add(($"block{i + 1}", nn.Sequential(block)));
            channels = widths[i];
            h /= 2;
            w /= 2;
        }
        layers.Add(("flatten", nn.Flatten()));
        long features = (long)channels * h * w;
        if (o.Dropout > 0)
        {
            layers.Add(("dropout", nn.Dropout(o.Dropout)));
        }
        if (o.Hidden > 0)
        {
            layers.Add(("fc", nn.Linear(features, o.Hidden)));
            layers.Add(("relu", nn.ReLU()));
            features = o.Hidden;
        }
        layers.Add(("logits", nn.Linear(features, classes)));
        return new SequentialClassifier(spec, layers);
    }

    private sealed record Options(bool BatchNorm, int Hidden, double Dropout);

    private static Options ParseOptions(string spec, string text)
    {
        bool bn = false;
        int hidden = 0;
        double dropout = 0;
        foreach (string option in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            string[] kv = option.Split('=');
            switch (kv[0].ToLowerInvariant())
            {
                case "bn" when kv.Length == 1:
                    bn = true;
                    break;
                case "hidden" when kv.Length == 2 && int.TryParse(kv[1], NumberStyles.None, CultureInfo.InvariantCulture, out hidden) && hidden > 0:
                    break;
                case "dropout" when kv.Length == 2 && double.TryParse(kv[1], NumberStyles.Float, CultureInfo.InvariantCulture, out dropout) && dropout is >= 0 and < 1:
                    break;
                default:
                    throw Malformed(spec, $"unknown or invalid option '{option}' (options: bn, hidden=H, dropout=P with 0 <= P < 1)");
            }
        }
        return new Options(bn, hidden, dropout);
    }

    private static FormatException Malformed(string spec, string why) =>
        new($"Model specification '{spec}' is not valid: {why}. Examples: 'mlp:1200,1200', 'mlp:256:dropout=0.2', 'cnn:16,32', 'cnn:32,64,128:bn,hidden=256'.");
}
