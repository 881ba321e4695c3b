using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Options;
using Orchestration.Networking;
using Orchestration.Runtime.Linux;
using Orchestration.Runtime.Linux.Networking;

/// <summary>
/// New TCP connections per second from one pod to another through a cluster IP, with 10,000
/// Services programmed, beside the same connections made straight to the backend pod's address, in
/// the same run. Three network namespaces this harness creates stand in for a node and two pods on
/// it: each pod has its own subnet on a veth link to the node, so both paths are routed by the node
/// and pass its conntrack; the only difference is the proxy's translation. Client and backend run as
/// child processes of this harness inside the pods' namespaces, so their sockets are plain ones.
/// Each connection is a handshake, one byte from the backend, and a close by the client with an
/// RST (no TIME_WAIT, so the client's ports do not run out within a run).
/// </summary>
internal static class ConnectionRate
{
    private const int BackendPort = 8080;
    private static readonly CultureInfo Culture = CultureInfo.InvariantCulture;

    public static async Task RunAsync(int services, TimeSpan duration, int parallelism, int rounds)
    {
        var id = Guid.NewGuid().ToString("N")[..6];
        string node = $"orch-cr-{id}-n", client = $"orch-cr-{id}-a", backend = $"orch-cr-{id}-b";
        Process? server = null;
        try
        {
            foreach (var name in new[] { node, client, backend })
            {
                await ProcessRunner.RunCheckedAsync("ip", ["netns", "add", name], CancellationToken.None);
                await ProcessRunner.RunCheckedAsync("ip", ["-n", name, "link", "set", "lo", "up"], CancellationToken.None);
            }

            await LinkPodAsync(node, client, "a", 1);
            await LinkPodAsync(node, backend, "b", 2);
            await ProcessRunner.RunCheckedAsync("ip", ["netns", "exec", node, "sysctl", "-qw", "net.ipv4.ip_forward=1"], CancellationToken.None);

            var backendAddress = IPAddress.Parse("10.244.2.2");
            var ports = Enumerable.Range(0, services).Select(i => new ServicePort(new ServicePortName("bench", $"svc-{i}", "http", ServiceProtocol.Tcp), 80)
            {
                ClusterIPs = [IPAddress.Parse($"10.{96 + (i / 62500)}.{(i / 250) % 250}.{(i % 250) + 1}")],
                ClusterEndpoints = i == services / 2
                    ? [new ServiceEndpoint(backendAddress, BackendPort, "node")]
                    : Enumerable.Range(0, 10).Select(e => new ServiceEndpoint(IPAddress.Parse($"10.245.{((i * 10) + e) / 250 % 256}.{(((i * 10) + e) % 250) + 2}"), BackendPort, "node")).ToList(),
            }).ToList();
            var clusterIP = ports[services / 2].ClusterIPs[0];
            using var proxy = new NftablesProxy(Options.Create(new NftablesProxyOptions { NetworkNamespacePath = $"/var/run/netns/{node}", ClusterCidr = "10.244.0.0/16" }), new ConsoleErrorLogger());
            var started = Stopwatch.GetTimestamp();
            await proxy.SyncAsync(new ServiceTable(ports), CancellationToken.None);
            var syncSeconds = Stopwatch.GetElapsedTime(started).TotalSeconds;

            server = StartChild(backend, "serve", BackendPort.ToString(Culture));
            await WaitForLineAsync(server, "serving");

            // A warm-up on each path, then the two in turn, so drift in the machine's load falls on both.
            await ConnectAsync(client, new IPEndPoint(clusterIP, 80), TimeSpan.FromSeconds(1), parallelism);
            await ConnectAsync(client, new IPEndPoint(backendAddress, BackendPort), TimeSpan.FromSeconds(1), parallelism);
            var direct = new List<double>();
            var translated = new List<double>();
            for (var round = 0; round < rounds; round++)
            {
                // Each path goes first in every other round, so neither gains from coming second.
                if (round % 2 == 1)
                {
                    translated.Add(await ConnectAsync(client, new IPEndPoint(clusterIP, 80), duration, parallelism));
                }

                direct.Add(await ConnectAsync(client, new IPEndPoint(backendAddress, BackendPort), duration, parallelism));
                if (round % 2 == 0)
                {
                    translated.Add(await ConnectAsync(client, new IPEndPoint(clusterIP, 80), duration, parallelism));
                }
            }

            Console.WriteLine("services\tsync s\tparallel\tseconds x rounds\tstraight to the pod conn/s (median; each round)\tthrough the cluster IP conn/s (median; each round)\tratio of medians");
            Console.WriteLine(string.Join('\t',
                services.ToString(Culture),
                syncSeconds.ToString("F1", Culture),
                parallelism.ToString(Culture),
                $"{duration.TotalSeconds.ToString(Culture)} x {rounds.ToString(Culture)}",
                $"{Median(direct).ToString("F0", Culture)} ({string.Join(", ", direct.Select(d => d.ToString("F0", Culture)))})",
                $"{Median(translated).ToString("F0", Culture)} ({string.Join(", ", translated.Select(d => d.ToString("F0", Culture)))})",
                (Median(translated) / Median(direct)).ToString("F2", Culture)));
        }
        finally
        {
            if (server is not null)
            {
                // The backend ends when its standard input closes; it is this harness's own child.
                server.StandardInput.Close();
                if (!server.WaitForExit(5_000))
                {
                    server.Kill();
                }

                server.Dispose();
            }

            foreach (var name in new[] { client, backend, node })
            {
                await ProcessRunner.RunAsync("ip", ["netns", "delete", name], CancellationToken.None);
            }
        }
    }

    /// <summary>The backend: accepts on <c>0.0.0.0:PORT</c>, sends each connection one byte and closes once the client has; ends when standard input closes.</summary>
    public static async Task<int> ServeAsync(int port)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Any, port));
        listener.Listen(4096);
        using var stop = new CancellationTokenSource();
        var accepting = Task.Run(async () =>
        {
            var one = new byte[] { 1 };
            while (!stop.IsCancellationRequested)
            {
                Socket accepted;
                try
                {
                    accepted = await listener.AcceptAsync(stop.Token);
                }
                catch (Exception ex) when (ex is OperationCanceledException or SocketException)
                {
                    return;
                }

                _ = Task.Run(async () =>
                {
                    using (accepted)
                    {
                        try
                        {
                            await accepted.SendAsync(one);
                            await accepted.ReceiveAsync(new byte[1]);
                        }
                        catch (SocketException)
                        {
                            // The client's RST: the close it was waiting for.
                        }
                    }
                });
            }
        });
        Console.WriteLine("serving");
        await Console.In.ReadToEndAsync();
        await stop.CancelAsync();
        listener.Dispose();
        await accepting;
        return 0;
    }

    /// <summary>The client: <paramref name="parallelism"/> loops of connect, read one byte, close with an RST, for <paramref name="seconds"/>; prints "connections errors seconds".</summary>
    public static async Task<int> ConnectLoopAsync(IPEndPoint target, double seconds, int parallelism)
    {
        var count = 0L;
        var errors = 0L;
        var started = Stopwatch.GetTimestamp();
        var deadline = started + (long)(seconds * Stopwatch.Frequency);
        var workers = Enumerable.Range(0, parallelism).Select(_ => Task.Run(async () =>
        {
            var buffer = new byte[1];
            while (Stopwatch.GetTimestamp() < deadline)
            {
                using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { LingerState = new LingerOption(true, 0), NoDelay = true };
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                try
                {
                    await socket.ConnectAsync(target, timeout.Token);
                    if (await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token) == 1)
                    {
                        Interlocked.Increment(ref count);
                        continue;
                    }
                }
                catch (Exception ex) when (ex is SocketException or OperationCanceledException)
                {
                }

                Interlocked.Increment(ref errors);
            }
        })).ToList();
        await Task.WhenAll(workers);
        Console.WriteLine(string.Join(' ', count.ToString(Culture), errors.ToString(Culture), Stopwatch.GetElapsedTime(started).TotalSeconds.ToString("F3", Culture)));
        return 0;
    }

    private static async Task<double> ConnectAsync(string netns, IPEndPoint target, TimeSpan duration, int parallelism)
    {
        using var child = StartChild(netns, "connect", target.ToString(), duration.TotalSeconds.ToString(Culture), parallelism.ToString(Culture));
        child.StandardInput.Close();
        var output = await child.StandardOutput.ReadToEndAsync();
        await child.WaitForExitAsync();
        var fields = output.Trim().Split(' ');
        if (child.ExitCode != 0 || fields.Length != 3)
        {
            throw new InvalidOperationException($"the client in {netns} failed ({child.ExitCode}): {output} {await child.StandardError.ReadToEndAsync()}");
        }

        var (count, errors, seconds) = (long.Parse(fields[0], Culture), long.Parse(fields[1], Culture), double.Parse(fields[2], Culture));
        if (errors > 0)
        {
            // A failed connection is part of the figure's story: say it rather than hide it.
            Console.Error.WriteLine($"{target}: {errors} of {count + errors} connections failed");
        }

        return count / seconds;
    }

    // A veth pair from the node to the pod; the pod's subnet 10.244.N.0/24, the node's end .1.
    private static async Task LinkPodAsync(string node, string pod, string suffix, int subnet)
    {
        await ProcessRunner.RunCheckedAsync("ip", ["-n", node, "link", "add", $"veth-{suffix}", "type", "veth", "peer", "name", "eth0", "netns", pod], CancellationToken.None);
        await ProcessRunner.RunCheckedAsync("ip", ["-n", node, "address", "add", $"10.244.{subnet}.1/24", "dev", $"veth-{suffix}"], CancellationToken.None);
        await ProcessRunner.RunCheckedAsync("ip", ["-n", node, "link", "set", $"veth-{suffix}", "up"], CancellationToken.None);
        await ProcessRunner.RunCheckedAsync("ip", ["-n", pod, "address", "add", $"10.244.{subnet}.2/24", "dev", "eth0"], CancellationToken.None);
        await ProcessRunner.RunCheckedAsync("ip", ["-n", pod, "link", "set", "eth0", "up"], CancellationToken.None);
        await ProcessRunner.RunCheckedAsync("ip", ["-n", pod, "route", "add", "default", "via", $"10.244.{subnet}.1"], CancellationToken.None);
    }

    // This harness again, in a mode of its own, inside a namespace (ip netns exec).
    private static Process StartChild(string netns, params string[] arguments)
    {
        var info = new ProcessStartInfo("ip") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { "netns", "exec", netns }.Concat(SelfCommand()).Concat(arguments))
        {
            info.ArgumentList.Add(argument);
        }

        return Process.Start(info) ?? throw new InvalidOperationException("could not start the harness in a namespace");
    }

    private static IEnumerable<string> SelfCommand()
    {
        var process = Environment.ProcessPath ?? "dotnet";
        return Path.GetFileNameWithoutExtension(process) == "dotnet"
            ? [process, typeof(ConnectionRate).Assembly.Location]
            : [process];
    }

    private static async Task WaitForLineAsync(Process process, string expected)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
        {
            if (line == expected)
            {
                return;
            }
        }

        throw new InvalidOperationException($"the backend ended before it served: {await process.StandardError.ReadToEndAsync()}");
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted[sorted.Count / 2];
    }
}
