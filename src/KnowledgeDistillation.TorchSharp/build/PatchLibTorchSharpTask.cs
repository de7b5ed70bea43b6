// Makes TorchSharp's native bridge (libLibTorchSharp.so, built with GCC 13) load on systems whose
// libstdc++ predates GLIBCXX_3.4.32 (Debian 12, Ubuntu 22.04). The library needs exactly one symbol
// of that version, std::ios_base_library_init(), which GCC 13's <iostream> only *references* to pull
// in the iostream initialiser; it is never called. The patch renames that undefined symbol to an
// existing no-argument libstdc++ function of no greater length and rewrites the version requirement
// GLIBCXX_3.4.32 to GLIBCXX_3.4. It refuses to patch when any other symbol needs GLIBCXX_3.4.32.
//
// This file is compiled by MSBuild's RoslynCodeTaskFactory (see KnowledgeDistillation.TorchSharp.targets)
// and, with KD_ELF_PATCHER_ONLY defined, by the test project, which tests ElfLibStdCxxPatcher directly.
#nullable enable
#pragma warning disable IDE0161 // block namespace: RoslynCodeTaskFactory may compile with an older language version
using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
#if !KD_ELF_PATCHER_ONLY
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;
#endif

namespace KnowledgeDistillation.Build
{
#if !KD_ELF_PATCHER_ONLY
    /// <summary>MSBuild task: patches each given libLibTorchSharp.so in place (atomically) when needed.</summary>
    public sealed class PatchLibTorchSharp : Task
    {
        /// <summary>The native libraries to patch (copies in an output folder, never the NuGet cache).</summary>
        [Required]
        public ITaskItem[] Files { get; set; } = Array.Empty<ITaskItem>();

        /// <summary>Patch even when the system libstdc++ already provides GLIBCXX_3.4.32 (tests).</summary>
        public bool Force { get; set; }

        /// <inheritdoc />
        public override bool Execute()
        {
            string? libStdCxx = ElfLibStdCxxPatcher.FindSystemLibStdCxx();
            if (!Force)
            {
                if (libStdCxx is null)
                {
                    Log.LogMessage(MessageImportance.Low, "KnowledgeDistillation: no system libstdc++.so.6 found; TorchSharp native library left as is.");
                    return true;
                }
                if (ElfLibStdCxxPatcher.FileContainsAscii(libStdCxx, ElfLibStdCxxPatcher.RequiredVersion))
                {
                    Log.LogMessage(MessageImportance.Low, $"KnowledgeDistillation: {libStdCxx} provides {ElfLibStdCxxPatcher.RequiredVersion}; no patch needed.");
                    return true;
                }
            }

            foreach (ITaskItem item in Files)
            {
                string path = item.ItemSpec;
                try
                {
                    ElfPatchOutcome outcome = ElfLibStdCxxPatcher.PatchFile(path);
                    Log.LogMessage(MessageImportance.Normal, $"KnowledgeDistillation: {path}: {outcome}.");
                }
                catch (Exception ex) when (ex is InvalidDataException or IOException or UnauthorizedAccessException)
                {
                    Log.LogWarning($"KnowledgeDistillation: could not patch {path} for libstdc++ < {ElfLibStdCxxPatcher.RequiredVersion}: {ex.Message}. TorchSharp may fail to load; see docs/troubleshooting.md.");
                }
            }
            return !Log.HasLoggedErrors;
        }
    }
#endif

    /// <summary>What <see cref="ElfLibStdCxxPatcher.PatchFile"/> did.</summary>
    public enum ElfPatchOutcome
    {
        /// <summary>The file was rewritten.</summary>
        Patched,

        /// <summary>The file does not require GLIBCXX_3.4.32 (already patched, or a build that never needed it).</summary>
        NotNeeded,
    }

    /// <summary>A minimal ELF64 little-endian reader/rewriter for the one change described at the top of this file.</summary>
    public static class ElfLibStdCxxPatcher
    {
        /// <summary>The symbol version Debian 12's libstdc++ lacks.</summary>
        public const string RequiredVersion = "GLIBCXX_3.4.32";

        /// <summary>The version requirement written instead (every libstdc++.so.6 has it).</summary>
        public const string ReplacementVersion = "GLIBCXX_3.4";

        /// <summary>The only symbol of <see cref="RequiredVersion"/> the patch knows to be safe to rename.</summary>
        public const string MissingSymbol = "_ZSt21ios_base_library_initv";

        /// <summary>An existing no-argument libstdc++ function (std::uncaught_exception(), GLIBCXX_3.4), no longer than <see cref="MissingSymbol"/>.</summary>
        public const string ReplacementSymbol = "_ZSt18uncaught_exceptionv";

        private const uint ShtDynsym = 11;
        private const uint ShtGnuVerneed = 0x6ffffffe;
        private const uint ShtGnuVersym = 0x6fffffff;

        private static readonly string[] LibraryDirectories =
        {
            "/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/lib/aarch64-linux-gnu",
            "/usr/lib64", "/lib64", "/usr/lib", "/lib",
        };

        /// <summary>Finds the system's libstdc++.so.6 in the usual library folders, or returns null.</summary>
        public static string? FindSystemLibStdCxx()
        {
            foreach (string dir in LibraryDirectories)
            {
                string candidate = Path.Combine(dir, "libstdc++.so.6");
                if (File.Exists(candidate))
                {
                    return candidate;
                }
            }
            return null;
        }

        /// <summary>True when the file's bytes contain <paramref name="text"/> as a NUL-terminated ASCII string.</summary>
        public static bool FileContainsAscii(string path, string text)
        {
            byte[] needle = Encoding.ASCII.GetBytes(text + "\0");
            return IndexOf(File.ReadAllBytes(path), needle, 0) >= 0;
        }

        /// <summary>Patches the file in place through a temporary file and an atomic rename. Idempotent.</summary>
        /// <exception cref="InvalidDataException">The file is not an ELF64 little-endian shared library, or other symbols need the version.</exception>
        public static ElfPatchOutcome PatchFile(string path)
        {
            byte[] image = File.ReadAllBytes(path);
            ElfPatchOutcome outcome = Patch(image, path);
            if (outcome == ElfPatchOutcome.Patched)
            {
                // A unique temporary name in the same folder (two builds patching at once never share one), removed on failure.
                string full = Path.GetFullPath(path);
                string temp = Path.Combine(Path.GetDirectoryName(full) ?? ".", "." + Path.GetFileName(full) + "." + Guid.NewGuid().ToString("N") + ".kdpatch.tmp");
                try
                {
                    using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
                    {
                        stream.Write(image, 0, image.Length);
                        stream.Flush(true);
                    }
                    // rename(2) over the target: readers see the old or the new file, never a mix.
                    File.Replace(temp, full, null);
                }
                finally
                {
                    if (File.Exists(temp))
                    {
                        File.Delete(temp);
                    }
                }
            }
            return outcome;
        }

        /// <summary>Patches an ELF image in memory. <paramref name="name"/> is used in error messages only.</summary>
        public static ElfPatchOutcome Patch(byte[] image, string name)
        {
            if (image.Length < 64 || image[0] != 0x7F || image[1] != (byte)'E' || image[2] != (byte)'L' || image[3] != (byte)'F')
            {
                throw new InvalidDataException($"'{name}' is not an ELF file (bad magic number).");
            }
            if (image[4] != 2 || image[5] != 1)
            {
                throw new InvalidDataException($"'{name}' is not a 64-bit little-endian ELF file (class {image[4]}, data {image[5]}).");
            }

            ulong shoff = U64(image, 0x28, name);
            int shentsize = U16(image, 0x3A, name);
            int shnum = U16(image, 0x3C, name);
            Section? dynsym = null, verneed = null, versym = null;
            var sections = new List<Section>(shnum);
            for (int i = 0; i < shnum; i++)
            {
                int at = Checked(shoff + (ulong)(i * shentsize), 64, image, name);
                var s = new Section(U32(image, at + 4, name), Checked(U64(image, at + 24, name), 0, image, name),
                    (int)U64(image, at + 32, name), U32(image, at + 40, name), U32(image, at + 44, name));
                sections.Add(s);
                if (s.Type == ShtDynsym) { dynsym = s; }
                else if (s.Type == ShtGnuVerneed) { verneed = s; }
                else if (s.Type == ShtGnuVersym) { versym = s; }
            }
            if (dynsym is null || verneed is null || versym is null)
            {
                throw new InvalidDataException($"'{name}' has no dynamic symbol or symbol-version sections (.dynsym, .gnu.version, .gnu.version_r).");
            }
            Section dynstr = sections[(int)verneed.Link];

            // Find the vernaux entry that requires GLIBCXX_3.4.32.
            int vernauxAt = -1;
            int entry = verneed.Offset;
            for (uint n = 0; n < verneed.Info; n++)
            {
                int cnt = U16(image, entry + 2, name);
                int aux = entry + (int)U32(image, entry + 8, name);
                for (int a = 0; a < cnt; a++)
                {
                    string auxName = ReadString(image, dynstr.Offset + (int)U32(image, aux + 8, name), name);
                    if (auxName == RequiredVersion)
                    {
                        vernauxAt = aux;
                    }
                    aux += (int)U32(image, aux + 12, name);
                }
                entry += (int)U32(image, entry + 12, name);
            }
            if (vernauxAt < 0)
            {
                return ElfPatchOutcome.NotNeeded;
            }
            int versionIndex = U16(image, vernauxAt + 6, name) & 0x7fff;

            // Every symbol that needs that version must be the one we know to be safe to rename.
            Section symbolNames = sections[(int)dynsym.Link];
            int symbolCount = dynsym.Size / 24;
            int renameAt = -1;
            for (int i = 0; i < symbolCount; i++)
            {
                if ((U16(image, versym.Offset + (2 * i), name) & 0x7fff) != versionIndex)
                {
                    continue;
                }
                int nameAt = symbolNames.Offset + (int)U32(image, dynsym.Offset + (24 * i), name);
                string symbol = ReadString(image, nameAt, name);
                if (symbol != MissingSymbol)
                {
                    throw new InvalidDataException($"'{name}' needs {RequiredVersion} for '{symbol}', which this patch cannot replace; install a libstdc++ with {RequiredVersion} (GCC 13 or newer).");
                }
                renameAt = nameAt;
            }

            if (renameAt >= 0)
            {
                OverwriteString(image, renameAt, MissingSymbol.Length, ReplacementSymbol);
            }
            // Point the requirement at a new-or-shared "GLIBCXX_3.4" string by rewriting the old one in place.
            int versionNameAt = dynstr.Offset + (int)U32(image, vernauxAt + 8, name);
            OverwriteString(image, versionNameAt, RequiredVersion.Length, ReplacementVersion);
            WriteU32(image, vernauxAt, ElfHash(ReplacementVersion));
            return ElfPatchOutcome.Patched;
        }

        /// <summary>The System V ELF hash (the vna_hash field).</summary>
        public static uint ElfHash(string text)
        {
            uint h = 0;
            foreach (char c in text)
            {
                h = (h << 4) + c;
                uint g = h & 0xf0000000;
                if (g != 0)
                {
                    h ^= g >> 24;
                }
                h &= ~g;
            }
            return h;
        }

        // A class, not a record: RoslynCodeTaskFactory compiles against netstandard, which lacks init-only support.
        private sealed class Section
        {
            public Section(uint type, int offset, int size, uint link, uint info)
            {
                Type = type;
                Offset = offset;
                Size = size;
                Link = link;
                Info = info;
            }

            public uint Type { get; }

            public int Offset { get; }

            public int Size { get; }

            public uint Link { get; }

            public uint Info { get; }
        }

        private static void OverwriteString(byte[] image, int at, int oldLength, string replacement)
        {
            byte[] bytes = Encoding.ASCII.GetBytes(replacement);
            Array.Clear(image, at, oldLength);
            Buffer.BlockCopy(bytes, 0, image, at, bytes.Length);
        }

        private static string ReadString(byte[] image, int at, string name)
        {
            if (at < 0 || at >= image.Length)
            {
                throw new InvalidDataException($"'{name}' is truncated or corrupt (string offset {at} outside {image.Length} bytes).");
            }
            int end = Array.IndexOf(image, (byte)0, at);
            if (end < 0)
            {
                throw new InvalidDataException($"'{name}' is truncated or corrupt (unterminated string at {at}).");
            }
            return Encoding.ASCII.GetString(image, at, end - at);
        }

        private static int IndexOf(byte[] haystack, byte[] needle, int start)
        {
            for (int i = start; i <= haystack.Length - needle.Length; i++)
            {
                int j = 0;
                while (j < needle.Length && haystack[i + j] == needle[j])
                {
                    j++;
                }
                if (j == needle.Length)
                {
                    return i;
                }
            }
            return -1;
        }

        private static int Checked(ulong offset, int length, byte[] image, string name)
        {
            if (offset + (ulong)length > (ulong)image.Length)
            {
                throw new InvalidDataException($"'{name}' is truncated or corrupt (offset {offset} + {length} beyond {image.Length} bytes).");
            }
            return (int)offset;
        }

        private static ushort U16(byte[] b, int at, string name) => BitConverter.ToUInt16(b, Checked((ulong)at, 2, b, name));

        private static uint U32(byte[] b, int at, string name) => BitConverter.ToUInt32(b, Checked((ulong)at, 4, b, name));

        private static ulong U64(byte[] b, int at, string name) => BitConverter.ToUInt64(b, Checked((ulong)at, 8, b, name));

        private static void WriteU32(byte[] b, int at, uint value) => BitConverter.GetBytes(value).CopyTo(b, at);
    }
}
