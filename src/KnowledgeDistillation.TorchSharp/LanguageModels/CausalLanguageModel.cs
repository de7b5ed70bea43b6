using System.Globalization;
using KnowledgeDistillation.TorchSharp.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace KnowledgeDistillation.TorchSharp.LanguageModels;

/// <summary>
/// A small decoder-only (GPT-style) transformer language model: token + learnt position embeddings, pre-norm blocks of
/// causal multi-head self-attention and a GELU feed-forward, a final layer norm, and an output layer optionally tied to
/// the token embedding. Input <c>[batch, sequence]</c> int64 ids, output <c>[batch, sequence, vocabulary]</c> logits.
/// </summary>
public sealed class CausalLanguageModel : nn.Module<Tensor, Tensor>
{
    private readonly Embedding _tokens;
    private readonly Embedding _positions;
    private readonly Dropout _dropout;
    private readonly ModuleList<TransformerBlock> _blocks;
    private readonly LayerNorm _finalNorm;
    private readonly Linear? _output;

    /// <summary>Creates the model with freshly initialised weights (seed libtorch first for reproducible weights).</summary>
    public CausalLanguageModel(CausalLanguageModelOptions options, string name = "causal_lm")
        : base(name)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        _tokens = nn.Embedding(options.VocabularySize, options.Width);
        _positions = nn.Embedding(options.ContextLength, options.Width);
        _dropout = nn.Dropout(options.Dropout);
        _blocks = nn.ModuleList(Enumerable.Range(0, options.Layers).Select(i => new TransformerBlock($"block{i}", options)).ToArray());
        _finalNorm = nn.LayerNorm(options.Width);
        _output = options.TieEmbeddings ? null : nn.Linear(options.Width, options.VocabularySize, hasBias: false);
        RegisterComponents();
        using (torch.no_grad())
        {
            // GPT-2 initialisation: N(0, 0.02) embeddings; small embeddings keep tied logits near zero at the start.
            nn.init.normal_(_tokens.weight!, 0, 0.02);
            nn.init.normal_(_positions.weight!, 0, 0.02);
            if (_output is not null)
            {
                nn.init.normal_(_output.weight!, 0, 0.02);
            }
        }
    }

    /// <summary>The shape.</summary>
    public CausalLanguageModelOptions Options { get; }

    /// <summary>The number of trainable scalars (a tied output layer counts once).</summary>
    public long ParameterCount => parameters().Sum(p => p.numel());

    /// <summary>The device of the weights.</summary>
    public Device Device => _tokens.weight!.device;

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.dim() != 2)
        {
            throw new ArgumentException($"Expected token ids of shape [batch, sequence]; got [{string.Join(", ", input.shape)}].", nameof(input));
        }

        long length = input.shape[1];
        if (length > Options.ContextLength)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"The sequence has {length} tokens but the model's context is {Options.ContextLength}; cut the input or build the model with a longer ContextLength."), nameof(input));
        }

        using var scope = torch.NewDisposeScope();
        Tensor positions = torch.arange(length, dtype: ScalarType.Int64, device: input.device);
        Tensor x = _dropout.call(_tokens.call(input).add(_positions.call(positions), TorchScalars.One));
        foreach (TransformerBlock block in _blocks)
        {
            x = block.call(x);
        }

        x = _finalNorm.call(x);
        Tensor logits = _output is null ? nn.functional.linear(x, _tokens.weight!) : _output.call(x);
        return logits.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Samples a continuation of <paramref name="prompt"/> (the model's own text, as sequence-level distillation needs):
    /// <paramref name="maxNewTokens"/> tokens at <paramref name="temperature"/> (0 = greedy), optionally from the top-k only,
    /// stopping early at <paramref name="stopToken"/>. The context slides when it is full. Deterministic for a given generator.
    /// </summary>
    public int[] Generate(ReadOnlySpan<int> prompt, int maxNewTokens, float temperature, Generator? generator = null, int topK = 0, int? stopToken = null)
    {
        if (prompt.IsEmpty)
        {
            throw new ArgumentException("The prompt needs at least one token (for example the begin-of-sequence id).", nameof(prompt));
        }

        if (!(temperature >= 0) || !float.IsFinite(temperature))
        {
            throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "temperature must be finite and ≥ 0 (0 = greedy).");
        }

        bool wasTraining = training;
        eval();
        var tokens = new List<int>(prompt.ToArray());
        try
        {
            using var noGrad = torch.no_grad();
            using Scalar t = Math.Max(temperature, 1e-6f).ToScalar();
            for (int i = 0; i < maxNewTokens; i++)
            {
                using var scope = torch.NewDisposeScope();
                int start = Math.Max(0, tokens.Count - Options.ContextLength);
                Tensor input = torch.tensor(tokens.Skip(start).Select(v => (long)v).ToArray(), new long[] { 1, tokens.Count - start }, device: Device);
                Tensor last = forward(input)[0, -1];
                int next;
                if (temperature == 0)
                {
                    next = (int)last.argmax().item<long>();
                }
                else
                {
                    Tensor scaled = last.div(t);
                    if (topK > 0 && topK < Options.VocabularySize)
                    {
                        (Tensor values, Tensor _) = scaled.topk(topK);
                        using Scalar threshold = values[-1].item<float>().ToScalar();
                        using Scalar minusInfinity = float.NegativeInfinity.ToScalar();
                        scaled = scaled.masked_fill(scaled.lt(threshold), minusInfinity);
                    }

                    Tensor probabilities = nn.functional.softmax(scaled, 0).cpu();
                    next = (int)torch.multinomial(probabilities, 1, false, generator).item<long>();
                }

                tokens.Add(next);
                if (next == stopToken)
                {
                    break;
                }
            }
        }
        finally
        {
            train(wasTraining);
        }

        return tokens.Skip(prompt.Length).ToArray();
    }

    /// <summary>
    /// Samples continuations of several prompts of equal length at once (one forward per new token for the whole batch),
    /// at <paramref name="temperature"/> (&gt; 0), the context sliding when full. Returns only the new tokens of each prompt.
    /// Deterministic for a given generator.
    /// </summary>
    public int[][] GenerateBatch(IReadOnlyList<int[]> prompts, int newTokens, float temperature, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        if (prompts.Count == 0 || prompts[0].Length == 0 || prompts.Any(p => p.Length != prompts[0].Length))
        {
            throw new ArgumentException("GenerateBatch needs at least one prompt, all of the same non-zero length.", nameof(prompts));
        }

        if (!(temperature > 0) || !float.IsFinite(temperature))
        {
            throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "temperature must be finite and > 0.");
        }

        bool wasTraining = training;
        eval();
        try
        {
            using var noGrad = torch.no_grad();
            using Scalar t = temperature.ToScalar();
            int rows = prompts.Count;
            Tensor sequence = torch.tensor(prompts.SelectMany(p => p.Select(v => (long)v)).ToArray(), new long[] { rows, prompts[0].Length }, device: Device);
            for (int i = 0; i < newTokens; i++)
            {
                using var scope = torch.NewDisposeScope();
                long length = sequence.shape[1];
                Tensor window = length > Options.ContextLength ? sequence.narrow(1, length - Options.ContextLength, Options.ContextLength) : sequence;
                Tensor last = forward(window).select(1, -1).div(t);
                Tensor next = torch.multinomial(nn.functional.softmax(last, 1).cpu(), 1, false, generator).to(Device);
                Tensor grown = torch.cat(new[] { sequence, next }, 1);
                sequence.Dispose();
                sequence = grown.MoveToOuterDisposeScope();
            }

            using Tensor cpu = sequence.cpu();
            long[] all = cpu.data<long>().ToArray();
            int width = (int)sequence.shape[1];
            int promptLength = prompts[0].Length;
            sequence.Dispose();
            return Enumerable.Range(0, rows).Select(r => all.Skip((r * width) + promptLength).Take(width - promptLength).Select(v => (int)v).ToArray()).ToArray();
        }
        finally
        {
            train(wasTraining);
        }
    }

    private sealed class TransformerBlock : nn.Module<Tensor, Tensor>
    {
        private readonly LayerNorm _norm1;
        private readonly Linear _qkv;
        private readonly Linear _projection;
        private readonly LayerNorm _norm2;
        private readonly Linear _up;
        private readonly Linear _down;
        private readonly Dropout _dropout;
        private readonly int _heads;
        private readonly double _dropoutP;

        public TransformerBlock(string name, CausalLanguageModelOptions options)
            : base(name)
        {
            int width = options.Width;
            _heads = options.Heads;
            _dropoutP = options.Dropout;
            _norm1 = nn.LayerNorm(width);
            _qkv = nn.Linear(width, 3 * width);
            _projection = nn.Linear(width, width);
            _norm2 = nn.LayerNorm(width);
            _up = nn.Linear(width, options.FeedForwardMultiplier * width);
            _down = nn.Linear(options.FeedForwardMultiplier * width, width);
            _dropout = nn.Dropout(options.Dropout);
            RegisterComponents();
            using (torch.no_grad())
            {
                // GPT-2: residual projections scaled by 1/√(2·layers) so the residual stream does not grow with depth.
                double std = 0.02 / Math.Sqrt(2.0 * options.Layers);
                foreach (Linear linear in new[] { _qkv, _up })
                {
                    nn.init.normal_(linear.weight!, 0, 0.02);
                    nn.init.zeros_(linear.bias!);
                }

                foreach (Linear linear in new[] { _projection, _down })
                {
                    nn.init.normal_(linear.weight!, 0, std);
                    nn.init.zeros_(linear.bias!);
                }
            }
        }

        public override Tensor forward(Tensor x)
        {
            long batch = x.shape[0], length = x.shape[1], width = x.shape[2];
            long headWidth = width / _heads;
            Tensor qkv = _qkv.call(_norm1.call(x)).view(batch, length, 3, _heads, headWidth).permute(2, 0, 3, 1, 4);
            Tensor attended = nn.functional.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], null, training ? _dropoutP : 0.0, true);
            Tensor merged = attended.transpose(1, 2).reshape(batch, length, width);
            x = x.add(_dropout.call(_projection.call(merged)), TorchScalars.One);
            Tensor hidden = nn.functional.gelu(_up.call(_norm2.call(x)));
            return x.add(_dropout.call(_down.call(hidden)), TorchScalars.One);
        }
    }
}
