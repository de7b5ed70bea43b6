using System.Reflection;

namespace KnowledgeDistillation;

/// <summary>Version information about the KnowledgeDistillation library.</summary>
public static class LibraryInfo
{
    /// <summary>The informational version of the core assembly (for example <c>0.1.0+abc123</c>).</summary>
    public static string Version { get; } = GetInformationalVersion(typeof(LibraryInfo).Assembly);

    /// <summary>Reads an assembly's informational version, falling back to its assembly version.</summary>
    public static string GetInformationalVersion(Assembly assembly)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        return assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
            ?? assembly.GetName().Version?.ToString()
            ?? "unknown";
    }
}
