using System.ComponentModel;
using System.Runtime.InteropServices;
using System.Text;

namespace Orchestration.NodeAgent;

/// <summary>
/// rename(2), which .NET does not offer for a link to a directory: its moves refuse an existing
/// destination and do not move such a link over another. A volume's <c>..data</c> link is switched
/// with it in one step.
/// </summary>
internal static class AtomicRename
{
    /// <summary>Renames <paramref name="source"/> to <paramref name="destination"/>, replacing it in one step.</summary>
    /// <exception cref="IOException">The system refused.</exception>
    public static void Replace(string source, string destination)
    {
        if (Rename(Terminated(source), Terminated(destination)) != 0)
        {
            var error = Marshal.GetLastPInvokeError();
            throw new IOException($"rename {source} {destination}: {new Win32Exception(error).Message}");
        }
    }

    // Paths go as NUL-terminated UTF-8 bytes, which need no string marshalling.
    private static byte[] Terminated(string path) => Encoding.UTF8.GetBytes(path + "\0");

    [DllImport("libc", EntryPoint = "rename", SetLastError = true)]
    private static extern int Rename(byte[] source, byte[] destination);
}
