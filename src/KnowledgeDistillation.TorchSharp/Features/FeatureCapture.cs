using TorchSharp;
using static TorchSharp.torch;

namespace KnowledgeDistillation.TorchSharp.Features;

/// <summary>
/// Captures the outputs of named submodules during one forward pass of any <c>nn.Module&lt;Tensor, Tensor&gt;</c>.
/// </summary>
/// <remarks>
/// A module implementing <see cref="IFeatureCapturingModule"/> (such as <see cref="Models.SequentialClassifier"/>)
/// captures explicitly, so it does not matter how it invokes its layers. Any other module is captured through
/// temporary forward hooks on the named submodules (names as in <c>named_modules()</c>, for example <c>block2</c> or
/// <c>block2.conv</c>). TorchSharp fires a hook only when the submodule is invoked through <c>call(x)</c>: a parent
/// whose <c>forward</c> calls <c>child.forward(x)</c> skips it. That is never silent here: a hook that did not fire
/// is an <see cref="InvalidOperationException"/> naming the submodule and the fix.
/// </remarks>
public static class FeatureCapture
{
    /// <summary>The names that can be captured from <paramref name="module"/>.</summary>
    public static IReadOnlyList<string> AvailableNames(nn.Module<Tensor, Tensor> module)
    {
        ArgumentNullException.ThrowIfNull(module);
        return module is IFeatureCapturingModule explicitCapture
            ? explicitCapture.CapturableNames
            : module.named_modules().Select(m => m.name).Where(n => n.Length > 0).ToArray();
    }

    /// <summary>Checks that every name in <paramref name="names"/> can be captured from <paramref name="module"/>.</summary>
    /// <exception cref="ArgumentException">An unknown name; the message lists the available names.</exception>
    public static void Validate(nn.Module<Tensor, Tensor> module, IEnumerable<string> names, string who)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(names);
        IReadOnlyList<string> available = AvailableNames(module);
        foreach (string name in names)
        {
            if (!available.Contains(name))
            {
                throw new ArgumentException(
                    $"The {who} ('{module.GetName()}') has no layer named '{name}'. Available: {string.Join(", ", available)}.", nameof(names));
            }
        }
    }

    /// <summary>
    /// Runs <paramref name="module"/> on <paramref name="input"/> and stores the output of every submodule named in
    /// <paramref name="names"/> in <paramref name="captured"/> (the tensors are the submodule's real outputs, in the
    /// caller's dispose scope and autograd graph).
    /// </summary>
    /// <exception cref="ArgumentException">An unknown name (the message lists the available names), or a submodule that does not map a tensor to a tensor.</exception>
    /// <exception cref="InvalidOperationException">A named submodule was not invoked through <c>call(x)</c>, so its output could not be observed.</exception>
    public static Tensor Forward(nn.Module<Tensor, Tensor> module, Tensor input, IReadOnlyCollection<string> names, IDictionary<string, Tensor> captured)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(names);
        ArgumentNullException.ThrowIfNull(captured);
        if (names.Count == 0)
        {
            return module.call(input);
        }
        if (module is IFeatureCapturingModule explicitCapture)
        {
            return explicitCapture.Forward(input, names, captured);
        }

        Validate(module, names, "model");
        var byName = module.named_modules().ToDictionary(m => m.name, m => m.module);
        var removers = new List<Action>(names.Count);
        var fired = new HashSet<string>();
        try
        {
            foreach (string name in names)
            {
                if (byName[name] is not nn.Module<Tensor, Tensor> target)
                {
                    throw new ArgumentException(
                        $"Submodule '{name}' of '{module.GetName()}' is a {byName[name].GetType().Name}, not a module from one tensor to one tensor; pick a layer whose output is a single tensor.", nameof(names));
                }
                string key = name;
                var remover = target.register_forward_hook((_, _, output) =>
                {
                    // An alias (same storage and autograd node): containers such as nn.Sequential dispose the
                    // intermediate handles they pass along, which would leave a stored reference dead.
                    captured[key] = output.alias();
                    fired.Add(key);
                    return null!;
                });
                removers.Add(remover.remove);
            }
            Tensor result = module.call(input);
            string[] missing = names.Where(n => !fired.Contains(n)).ToArray();
            if (missing.Length > 0)
            {
                throw new InvalidOperationException(
                    $"The output of {string.Join(", ", missing.Select(m => $"'{m}'"))} in '{module.GetName()}' could not be captured: the submodule was not invoked through call(x) " +
                    "(TorchSharp fires forward hooks only through call, and a parent whose forward uses child.forward(x) skips them). " +
                    "Invoke children with call(x), or implement IFeatureCapturingModule on the parent, or build the model as a SequentialClassifier.");
            }
            return result;
        }
        finally
        {
            foreach (Action remove in removers)
            {
                remove();
            }
        }
    }
}
