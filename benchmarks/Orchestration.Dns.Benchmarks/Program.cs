using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using k8s.Models;
using Orchestration.Dns;

// Cluster DNS: the built-in server (ClusterDnsServer, in this process, UDP on 127.0.0.1) loaded with
// 10,000 ClusterIP Services, and NSD serving the same 10,000 A records as the reference, both under
// dnsperf with the same query file (A queries for random existing svc-N.ns-M.svc.cluster.local
// names): flat out (queries/s) and paced at 10,000 q/s (latency; dnsperf 2.10 prints no
// percentiles, so the paced run is verbose, written to a file, and p50/p99 come from its per-query
// latencies). Then the zone's memory per 1,000 Services. Everything on 127.0.0.1; no upstreams.
// Options: --services N (10000), --seconds N (15), --paced-qps N (10000), --clients N (8),
// --nsd-servers N (NSD's server-count, 1: its default).
var culture = CultureInfo.InvariantCulture;
var services = Option("--services", 10_000);
var seconds = Option("--seconds", 15);
var pacedQps = Option("--paced-qps", 10_000);
var clients = Option("--clients", 8);
var nsdServers = Option("--nsd-servers", 1);
const int WarmUpSeconds = 3;
const int QueryLines = 100_000;
const double TargetQps = 33_000;
const double TargetP99Ms = 2;

if (FindOnPath("dnsperf") is null || FindOnPath("nsd") is null)
{
    Console.Error.WriteLine("dnsperf and nsd are needed: scripts/install-deps.sh installs them (Debian packages dnsperf, nsd)");
    return 1;
}

var loadBefore = LoadAverage();
var work = Directory.CreateTempSubdirectory("orch-dns-bench-");
try
{
    var queryFile = Path.Combine(work.FullName, "queries.txt");
    WriteQueries(queryFile, services, QueryLines);

    // Memory: the Service objects exist before the zone does (an informer's cache holds them anyway),
    // so the growth is the zone's alone: its names, record sets and indexes.
    var objects = Enumerable.Range(0, services).Select(MakeService).ToList();
    using var self = Process.GetCurrentProcess();
    var heapBefore = GC.GetTotalMemory(forceFullCollection: true);
    self.Refresh();
    var workingSetBefore = self.WorkingSet64;
    var options = new ClusterDnsOptions { ListenEndPoints = { new IPEndPoint(IPAddress.Loopback, 0) } };
    options.ServiceCidrs.Add(IPNetwork.Parse("10.96.0.0/12"));
    var loadStarted = Stopwatch.GetTimestamp();
    var zone = new ClusterDnsZone(options);
    foreach (var service in objects)
    {
        zone.SetService(service);
    }

    var loadMs = Stopwatch.GetElapsedTime(loadStarted).TotalMilliseconds;
    var heapAfter = GC.GetTotalMemory(forceFullCollection: true);
    self.Refresh();
    var workingSetAfter = self.WorkingSet64;
    GC.KeepAlive(objects);

    Measured builtIn;
    await using (var server = new ClusterDnsServer(options, zone))
    {
        await server.StartAsync();
        var port = server.EndPoints[0].Port;
        await WaitUntilAnswersAsync(port, services, () => true);
        builtIn = await MeasureAsync(port, queryFile, work.FullName, "builtin", CurrentProcessCpu);
    }

    var nsdDirectory = Directory.CreateTempSubdirectory("orch-dns-bench-nsd-");
    Measured nsd;
    try
    {
        var nsdPort = FreePort();
        var config = WriteNsdFiles(nsdDirectory.FullName, nsdPort, services, nsdServers);
        var info = new ProcessStartInfo("nsd") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { "-d", "-c", config })
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException("nsd did not start");
        var nsdOutput = new StringBuilder();
        process.OutputDataReceived += (_, e) => Append(nsdOutput, e.Data);
        process.ErrorDataReceived += (_, e) => Append(nsdOutput, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await WaitUntilAnswersAsync(nsdPort, services, () => !process.HasExited);
            nsd = await MeasureAsync(nsdPort, queryFile, work.FullName, "nsd", () => ProcessTreeCpu(process.Id));
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException)
        {
            throw new InvalidOperationException($"nsd: {e.Message}; its output: {nsdOutput} {ReadIfExists(Path.Combine(nsdDirectory.FullName, "nsd.log"))}", e);
        }
        finally
        {
            await StopAsync(process);
        }
    }
    finally
    {
        nsdDirectory.Delete(recursive: true);
    }

    Console.WriteLine($"# {services:N0} ClusterIP Services, {Environment.ProcessorCount} cores shared by server and dnsperf; each run {seconds} s after a {WarmUpSeconds} s warm-up; max: dnsperf -c {clients} -q 256, no rate limit; paced: -c {clients} -Q {pacedQps} -v; load average before {loadBefore}, after {LoadAverage()}");
    Console.WriteLine("server\tmax q/s\tmax lost\tserver CPU s (max run)\tq per server CPU s\tpaced q/s\tpaced lost\tavg ms\tp50 ms\tp99 ms\tmax ms\tserver CPU s (paced)");
    foreach (var (name, m) in new[] { ("built-in", builtIn), ($"nsd 4.6 (server-count {nsdServers})", nsd) })
    {
        Console.WriteLine(string.Join(
            '\t',
            name,
            m.Max.Qps.ToString("F0", culture),
            m.Max.Lost.ToString(culture),
            m.MaxCpu.ToString("F1", culture),
            PerCpu(m.Max, m.MaxCpu).ToString("F0", culture),
            m.Paced.Qps.ToString("F0", culture),
            m.Paced.Lost.ToString(culture),
            m.Paced.AverageMs.ToString("F3", culture),
            Ms(m.Paced.P50Ms),
            Ms(m.Paced.P99Ms),
            m.Paced.MaxMs.ToString("F3", culture),
            m.PacedCpu.ToString("F1", culture)));
    }

    Console.WriteLine(string.Join(
        '\t',
        "ratio built-in/nsd",
        (builtIn.Max.Qps / nsd.Max.Qps).ToString("F2", culture),
        "",
        "",
        (PerCpu(builtIn.Max, builtIn.MaxCpu) / PerCpu(nsd.Max, nsd.MaxCpu)).ToString("F2", culture),
        "",
        "",
        (builtIn.Paced.AverageMs / nsd.Paced.AverageMs).ToString("F2", culture),
        Ratio(builtIn.Paced.P50Ms, nsd.Paced.P50Ms),
        Ratio(builtIn.Paced.P99Ms, nsd.Paced.P99Ms),
        "",
        (builtIn.PacedCpu / Math.Max(nsd.PacedCpu, 0.01)).ToString("F2", culture)));

    Console.WriteLine($"# built-in server's process: {builtIn.MaxGc.Collections} garbage collections pausing {builtIn.MaxGc.PauseMs:F0} ms in all in the flat-out run, {builtIn.PacedGc.Collections} pausing {builtIn.PacedGc.PauseMs:F0} ms in the paced run");
    var heapGrowth = heapAfter - heapBefore;
    var workingSetGrowth = workingSetAfter - workingSetBefore;
    Console.WriteLine();
    Console.WriteLine("services\tzone load ms\tmanaged heap growth MB\tper 1,000 services KB\tworking set growth MB\tper 1,000 services KB");
    Console.WriteLine(string.Join(
        '\t',
        services.ToString(culture),
        loadMs.ToString("F0", culture),
        (heapGrowth / 1048576.0).ToString("F1", culture),
        (heapGrowth / 1024.0 / (services / 1000.0)).ToString("F0", culture),
        (workingSetGrowth / 1048576.0).ToString("F1", culture),
        (workingSetGrowth / 1024.0 / (services / 1000.0)).ToString("F0", culture)));

    Console.WriteLine();
    Console.WriteLine($"target >= {TargetQps:N0} q/s: {(builtIn.Max.Qps >= TargetQps ? "met" : "NOT met")} ({builtIn.Max.Qps:N0}); target p99 <= {TargetP99Ms} ms at {pacedQps:N0} q/s: {(builtIn.Paced.P99Ms <= TargetP99Ms ? "met" : "NOT met")} ({Ms(builtIn.Paced.P99Ms)} ms)");
    return 0;
}
finally
{
    work.Delete(recursive: true);
}

// Warm-up (not counted), then the flat-out run and the paced run, each with the server's CPU time
// and this process's garbage collections (for the built-in server: its own).
async Task<Measured> MeasureAsync(int port, string queryFile, string directory, string label, Func<double> cpu)
{
    string[] flatOut = ["-c", clients.ToString(culture), "-q", "256"];
    await DnsperfAsync(port, queryFile, Path.Combine(directory, $"{label}-warmup.txt"), WarmUpSeconds, flatOut, verbose: false);
    var before = cpu();
    var gcs = GC.CollectionCount(0);
    var pause = GC.GetTotalPauseDuration();
    var max = await DnsperfAsync(port, queryFile, Path.Combine(directory, $"{label}-max.txt"), seconds, flatOut, verbose: false);
    var maxCpu = cpu() - before;
    var maxGc = new GcFigures(GC.CollectionCount(0) - gcs, (GC.GetTotalPauseDuration() - pause).TotalMilliseconds);
    before = cpu();
    gcs = GC.CollectionCount(0);
    pause = GC.GetTotalPauseDuration();
    var paced = await DnsperfAsync(port, queryFile, Path.Combine(directory, $"{label}-paced.txt"), seconds, ["-c", clients.ToString(culture), "-Q", pacedQps.ToString(culture)], verbose: true);
    var pacedCpu = cpu() - before;
    var pacedGc = new GcFigures(GC.CollectionCount(0) - gcs, (GC.GetTotalPauseDuration() - pause).TotalMilliseconds);
    return new Measured(max, maxCpu, maxGc, paced, pacedCpu, pacedGc);
}

// Runs dnsperf with its standard output in a file (so its verbose lines cost this process nothing),
// bounded to the run time plus 30 s (its query timeout is 2 s); then reads the file.
async Task<DnsperfResult> DnsperfAsync(int port, string queryFile, string outputFile, int runSeconds, string[] extra, bool verbose)
{
    var info = new ProcessStartInfo("/bin/sh") { UseShellExecute = false, RedirectStandardInput = false };
    info.ArgumentList.Add("-c");
    info.ArgumentList.Add("exec dnsperf \"$@\" >\"$0\" 2>&1");
    info.ArgumentList.Add(outputFile);
    foreach (var argument in new[] { "-s", "127.0.0.1", "-p", port.ToString(culture), "-d", queryFile, "-l", runSeconds.ToString(culture), "-t", "2" })
    {
        info.ArgumentList.Add(argument);
    }

    foreach (var argument in extra)
    {
        info.ArgumentList.Add(argument);
    }

    if (verbose)
    {
        info.ArgumentList.Add("-v");
    }

    using var process = Process.Start(info) ?? throw new InvalidOperationException("dnsperf did not start");
    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(runSeconds + 30));
    try
    {
        await process.WaitForExitAsync(timeout.Token);
    }
    catch (OperationCanceledException)
    {
        process.Kill();
        await process.WaitForExitAsync();
        throw new TimeoutException($"dnsperf did not end within {runSeconds + 30} s");
    }

    var result = ParseDnsperf(outputFile);
    File.Delete(outputFile);
    if (process.ExitCode != 0 || result.Completed == 0)
    {
        throw new InvalidOperationException($"dnsperf failed (exit {process.ExitCode}, {result.Completed} answers)");
    }

    if (!result.ResponseCodes.StartsWith("NOERROR", StringComparison.Ordinal) || result.ResponseCodes.Contains(',', StringComparison.Ordinal))
    {
        Console.Error.WriteLine($"warning: answers other than NOERROR on port {port}: {result.ResponseCodes}");
    }

    return result;
}

int Option(string name, int fallback)
{
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length ? int.Parse(args[index + 1], culture) : fallback;
}

static DnsperfResult ParseDnsperf(string file)
{
    double qps = 0, average = 0, max = 0;
    long sent = 0, completed = 0, lost = 0;
    var codes = "";
    var latencies = new List<double>();
    foreach (var line in File.ReadLines(file))
    {
        var trimmed = line.Trim();
        if (trimmed.StartsWith("> ", StringComparison.Ordinal))
        {
            // "> NOERROR svc-1.ns-1.svc.cluster.local A 0.000216"; a lost query is "> T ...", no latency.
            var fields = trimmed.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length == 5 && fields[1] is not ("T" or "I") && double.TryParse(fields[4], NumberStyles.Float, CultureInfo.InvariantCulture, out var latency))
            {
                latencies.Add(latency * 1000);
            }

            continue;
        }

        if (Value(trimmed, "Queries sent:") is { } s)
        {
            sent = (long)s;
        }
        else if (Value(trimmed, "Queries completed:") is { } c)
        {
            completed = (long)c;
        }
        else if (Value(trimmed, "Queries lost:") is { } l)
        {
            lost = (long)l;
        }
        else if (trimmed.StartsWith("Response codes:", StringComparison.Ordinal))
        {
            codes = trimmed["Response codes:".Length..].Trim();
        }
        else if (Value(trimmed, "Queries per second:") is { } q)
        {
            qps = q;
        }
        else if (Value(trimmed, "Average Latency (s):") is { } a)
        {
            average = a * 1000;
            var maxAt = trimmed.IndexOf("max ", StringComparison.Ordinal);
            if (maxAt >= 0)
            {
                max = double.Parse(trimmed[(maxAt + 4)..].TrimEnd(')'), CultureInfo.InvariantCulture) * 1000;
            }
        }
    }

    // Percentiles over every query sent: a lost one counts as slower than any answer.
    double? p50 = null, p99 = null;
    if (latencies.Count > 0)
    {
        latencies.Sort();
        var total = Math.Max(sent, latencies.Count);
        p50 = Percentile(latencies, total, 0.50);
        p99 = Percentile(latencies, total, 0.99);
    }

    return new DnsperfResult(sent, completed, lost, qps, average, max, p50, p99, codes);
}

static double? Percentile(List<double> sorted, long total, double fraction)
{
    var rank = (long)Math.Ceiling(fraction * total) - 1;
    return rank < sorted.Count ? sorted[(int)Math.Max(rank, 0)] : null;
}

static double? Value(string line, string label)
{
    if (!line.StartsWith(label, StringComparison.Ordinal))
    {
        return null;
    }

    var rest = line[label.Length..].Trim();
    var end = rest.IndexOf(' ', StringComparison.Ordinal);
    return double.Parse(end >= 0 ? rest[..end] : rest, CultureInfo.InvariantCulture);
}

// Answers per CPU second of the server (its process, or NSD's processes).
static double PerCpu(DnsperfResult result, double cpuSeconds) => result.Completed / Math.Max(cpuSeconds, 0.01);

static string LoadAverage() => string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));

static string Ms(double? value) => value is { } v ? v.ToString("F3", CultureInfo.InvariantCulture) : "lost";

static string Ratio(double? a, double? b) => a is { } x && b is { } y && y > 0 ? (x / y).ToString("F2", CultureInfo.InvariantCulture) : "";

// Service i: svc-i in namespace ns-(i % 100), one named TCP port, cluster IP in 10.96.0.0/12.
static V1Service MakeService(int i) => new()
{
    Metadata = new V1ObjectMeta { NamespaceProperty = $"ns-{i % 100}", Name = $"svc-{i}" },
    Spec = new V1ServiceSpec
    {
        Type = "ClusterIP",
        ClusterIP = ClusterIP(i),
        ClusterIPs = [ClusterIP(i)],
        Ports = [new V1ServicePort { Name = "http", Port = 80, Protocol = "TCP" }],
    },
};

static string ClusterIP(int i) => $"10.{96 + (i / 62500)}.{(i / 250) % 250}.{(i % 250) + 1}";

static string ServiceName(int i) => $"svc-{i}.ns-{i % 100}.svc.cluster.local";

// The query file: A queries for existing names, drawn with a fixed seed (dnsperf loops over it).
static void WriteQueries(string path, int services, int lines)
{
    var random = new Random(20261203);
    using var writer = new StreamWriter(path, append: false, new UTF8Encoding(false));
    for (var n = 0; n < lines; n++)
    {
        writer.Write(ServiceName(random.Next(services)));
        writer.Write(" A\n");
    }
}

// NSD's zone file (the same A records, with SOA and NS) and a configuration that keeps every file
// NSD writes in its directory and listens on 127.0.0.1 only. Response rate limiting is off (the
// built-in server has none; it would drop answers to repeated names under load).
static string WriteNsdFiles(string directory, int port, int services, int serverCount)
{
    var zone = new StringBuilder();
    zone.Append("$ORIGIN cluster.local.\n$TTL 30\n");
    zone.Append("@ IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 30\n");
    zone.Append("@ IN NS ns.dns.cluster.local.\n");
    zone.Append("ns.dns IN A 10.96.0.10\n");
    for (var i = 0; i < services; i++)
    {
        zone.Append(CultureInfo.InvariantCulture, $"svc-{i}.ns-{i % 100}.svc IN A {ClusterIP(i)}\n");
    }

    File.WriteAllText(Path.Combine(directory, "cluster.local.zone"), zone.ToString());
    var config = $"""
        server:
          ip-address: 127.0.0.1@{port}
          port: {port}
          do-ip4: yes
          do-ip6: no
          server-count: {serverCount}
          username: ""
          chroot: ""
          zonesdir: "{directory}"
          pidfile: "{directory}/nsd.pid"
          database: "{directory}/nsd.db"
          xfrdfile: "{directory}/xfrd.state"
          zonelistfile: "{directory}/zone.list"
          xfrdir: "{directory}"
          logfile: "{directory}/nsd.log"
          verbosity: 0
          hide-version: yes
          rrl-ratelimit: 0
          rrl-whitelist-ratelimit: 0
        remote-control:
          control-enable: no
        zone:
          name: cluster.local
          zonefile: cluster.local.zone

        """;
    var path = Path.Combine(directory, "nsd.conf");
    File.WriteAllText(path, config);
    return path;
}

// A port free for UDP and TCP on 127.0.0.1 (NSD binds both).
static int FreePort()
{
    for (var attempt = 0; attempt < 20; attempt++)
    {
        using var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        udp.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var port = ((IPEndPoint)udp.LocalEndPoint!).Port;
        using var tcp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            tcp.Bind(new IPEndPoint(IPAddress.Loopback, port));
            return port;
        }
        catch (SocketException)
        {
        }
    }

    throw new InvalidOperationException("no free port on 127.0.0.1");
}

// Polls (every 100 ms, at most 15 s) until the server answers; then checks a few names' addresses.
static async Task WaitUntilAnswersAsync(int port, int services, Func<bool> alive)
{
    var deadline = Stopwatch.GetTimestamp() + (15 * Stopwatch.Frequency);
    while (true)
    {
        if (!alive())
        {
            throw new InvalidOperationException("the server exited before it answered");
        }

        if (await QueryAsync(port, ServiceName(0)) is not null)
        {
            break;
        }

        if (Stopwatch.GetTimestamp() > deadline)
        {
            throw new TimeoutException($"no answer on 127.0.0.1:{port} within 15 s");
        }

        await Task.Delay(100);
    }

    foreach (var i in new[] { 0, 1, services / 2, services - 1 })
    {
        var address = await QueryAsync(port, ServiceName(i));
        if (address?.ToString() != ClusterIP(i))
        {
            throw new InvalidOperationException($"{ServiceName(i)} answered {address?.ToString() ?? "nothing"}, not {ClusterIP(i)}");
        }
    }
}

// One A query over UDP; the first A record of the answer, or null without one within 500 ms.
static async Task<IPAddress?> QueryAsync(int port, string name)
{
    var query = new List<byte>();
    var id = (ushort)Random.Shared.Next(ushort.MaxValue);
    query.AddRange([(byte)(id >> 8), (byte)id, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    foreach (var label in name.Split('.'))
    {
        query.Add((byte)label.Length);
        query.AddRange(Encoding.ASCII.GetBytes(label));
    }

    query.AddRange([0, 0, 1, 0, 1]);
    using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
    socket.Connect(new IPEndPoint(IPAddress.Loopback, port));
    await socket.SendAsync(query.ToArray(), SocketFlags.None);
    var buffer = new byte[1500];
    using var timeout = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
    int received;
    try
    {
        received = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
    }
    catch (Exception e) when (e is OperationCanceledException or SocketException)
    {
        return null;
    }

    var message = buffer.AsSpan(0, received);
    if (received < 12 || BinaryPrimitives.ReadUInt16BigEndian(message) != id || (message[3] & 0x0F) != 0)
    {
        return null;
    }

    var answers = BinaryPrimitives.ReadUInt16BigEndian(message[6..]);
    var offset = SkipName(message, 12) + 4;
    for (var n = 0; n < answers && offset >= 0 && offset + 10 <= received; n++)
    {
        offset = SkipName(message, offset);
        var type = BinaryPrimitives.ReadUInt16BigEndian(message[offset..]);
        var length = BinaryPrimitives.ReadUInt16BigEndian(message[(offset + 8)..]);
        offset += 10;
        if (type == 1 && length == 4 && offset + 4 <= received)
        {
            return new IPAddress(message.Slice(offset, 4));
        }

        offset += length;
    }

    return null;
}

static int SkipName(ReadOnlySpan<byte> message, int offset)
{
    while (offset < message.Length)
    {
        var length = message[offset];
        if (length == 0)
        {
            return offset + 1;
        }

        if ((length & 0xC0) == 0xC0)
        {
            return offset + 2;
        }

        offset += length + 1;
    }

    return -1;
}

// Stops NSD by its PID: SIGTERM to the process started (with -d it stays as NSD's xfrd, its main
// and server processes below it), then waits for those (10 s at most) and SIGKILLs any still alive.
static async Task StopAsync(Process process)
{
    var all = Processes();
    var descendants = all.Where(p => p.Value.Ancestors(all).Contains(process.Id)).Select(p => p.Key).ToList();
    if (!process.HasExited)
    {
        _ = Kill(process.Id, 15);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            _ = Kill(process.Id, 9);
            await process.WaitForExitAsync();
        }
    }

    var deadline = Stopwatch.GetTimestamp() + (10 * Stopwatch.Frequency);
    foreach (var pid in descendants)
    {
        // Gone, or a zombie its new parent has still to reap: stopped either way.
        while (Processes().TryGetValue(pid, out var left) && left.State != 'Z')
        {
            if (Stopwatch.GetTimestamp() > deadline)
            {
                _ = Kill(pid, 9);
                break;
            }

            await Task.Delay(50);
        }
    }
}

static double CurrentProcessCpu()
{
    using var process = Process.GetCurrentProcess();
    return process.TotalProcessorTime.TotalSeconds;
}

// CPU seconds of a process and every process below it (NSD's main and server processes), from /proc
// (clock ticks of 1/100 s). Only live processes count: run both readings while the tree lives.
static double ProcessTreeCpu(int root)
{
    var all = Processes();
    return all.Where(p => p.Key == root || p.Value.Ancestors(all).Contains(root)).Sum(p => p.Value.Ticks) / 100.0;
}

static Dictionary<int, ProcessStat> Processes()
{
    var result = new Dictionary<int, ProcessStat>();
    foreach (var directory in Directory.EnumerateDirectories("/proc"))
    {
        if (!int.TryParse(Path.GetFileName(directory), out var pid))
        {
            continue;
        }

        string stat;
        try
        {
            stat = File.ReadAllText(Path.Combine(directory, "stat"));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            continue;
        }

        // "pid (comm) state ppid ... utime stime ...": the fields after the command's closing parenthesis.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        result[pid] = new ProcessStat(
            fields[0][0],
            int.Parse(fields[1], CultureInfo.InvariantCulture),
            long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture));
    }

    return result;
}

static string? FindOnPath(string program) =>
    (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, program)).FirstOrDefault(File.Exists);

static string ReadIfExists(string path) => File.Exists(path) ? File.ReadAllText(path) : "";

static void Append(StringBuilder output, string? line)
{
    if (line is not null)
    {
        lock (output)
        {
            output.AppendLine(line);
        }
    }
}

[DllImport("libc", EntryPoint = "kill", SetLastError = true)]
static extern int Kill(int pid, int signal);

internal sealed record DnsperfResult(long Sent, long Completed, long Lost, double Qps, double AverageMs, double MaxMs, double? P50Ms, double? P99Ms, string ResponseCodes);

internal sealed record ProcessStat(char State, int Parent, long Ticks)
{
    /// <summary>The parent, its parent and so on (bounded: a pid may be reused while the table is read).</summary>
    public IEnumerable<int> Ancestors(Dictionary<int, ProcessStat> all)
    {
        var parent = Parent;
        for (var depth = 0; depth < 64 && parent > 1; depth++)
        {
            yield return parent;
            parent = all.TryGetValue(parent, out var next) ? next.Parent : 0;
        }
    }
}

internal sealed record Measured(DnsperfResult Max, double MaxCpu, GcFigures MaxGc, DnsperfResult Paced, double PacedCpu, GcFigures PacedGc);

internal sealed record GcFigures(int Collections, double PauseMs);
