using System.Net.Sockets;

namespace Orchestration.Networking;

/// <summary>Bytes both ways between two connected TCP sockets: what the userspace proxy and the node's API relay do with each connection.</summary>
public static class TcpRelay
{
    /// <summary>
    /// Copies <paramref name="client"/> to <paramref name="backend"/> and back until both directions
    /// end: a side that finishes sending is half-closed on the other, which then has 30 seconds to
    /// finish its own.
    /// </summary>
    public static async Task PipeAsync(Socket client, Socket backend, CancellationToken stopping)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(backend);
        var up = PumpAsync(client, backend, stopping);
        var down = PumpAsync(backend, client, stopping);
        await Task.WhenAny(up, down).ConfigureAwait(false);

        // One side ended: let the other finish what it was sending, then close both.
        await Task.WhenAll(up, down).WaitAsync(TimeSpan.FromSeconds(30), stopping).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private static async Task PumpAsync(Socket from, Socket to, CancellationToken stopping)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            int read;
            while ((read = await from.ReceiveAsync(buffer, SocketFlags.None, stopping).ConfigureAwait(false)) > 0)
            {
                await to.SendAsync(buffer.AsMemory(0, read), SocketFlags.None, stopping).ConfigureAwait(false);
            }

            to.Shutdown(SocketShutdown.Send);
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            try
            {
                to.Shutdown(SocketShutdown.Both);
            }
            catch (Exception closing) when (closing is SocketException or ObjectDisposedException)
            {
            }
        }
    }
}
