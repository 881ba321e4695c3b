namespace Orchestration.Runtime.Linux.Networking;

/// <summary>
/// An address a node component serves on inside the node's network namespace, made the node's own
/// on its loopback link (as NodeLocal DNSCache does): the cluster DNS's and the API relay's.
/// </summary>
internal static class NodeLoopbackAddress
{
    /// <summary>Adds <paramref name="address"/>/32 to the loopback of the namespace at <paramref name="path"/> (again is no error).</summary>
    /// <exception cref="InvalidOperationException"><c>ip</c> failed.</exception>
    public static Task AddAsync(string path, System.Net.IPAddress address, CancellationToken cancellationToken) =>
        ProcessRunner.RunCheckedAsync("nsenter", [$"--net={path}", "ip", "address", "replace", $"{address}/32", "dev", "lo"], cancellationToken);

    /// <summary>Takes the address off again; null when done, else <c>ip</c>'s output (the namespace may be gone already: cleanup logs it, nothing more).</summary>
    public static async Task<string?> RemoveAsync(string path, System.Net.IPAddress address)
    {
        var (exitCode, output) = await ProcessRunner.RunAsync("nsenter", [$"--net={path}", "ip", "address", "del", $"{address}/32", "dev", "lo"], input: null, CancellationToken.None).ConfigureAwait(false);
        return exitCode == 0 ? null : output.Trim();
    }
}
