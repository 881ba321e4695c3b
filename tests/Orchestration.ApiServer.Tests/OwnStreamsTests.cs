using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Time.Testing;
using Orchestration.ApiServer.Security;
using Orchestration.NodeAgent.Server;
using Orchestration.Runtime;
using Orchestration.Testing.Daemons;

namespace Orchestration.ApiServer.Tests;

/// <summary>
/// Exec and port-forward for a runtime without a streaming server (<see cref="IContainerStreams"/>,
/// as Docker): the node agent serves kubectl's SPDY protocols itself. Driven by the real kubectl,
/// 1.27 (SPDY, passed through by the API server) and 1.33 (WebSocket, which the API server
/// translates to SPDY), against a runtime whose "commands" are answered in process.
/// </summary>
[Trait("Category", "Integration")]
public sealed class OwnStreamsTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly TcpListener _echo = new(IPAddress.Loopback, 0);
    private TestApiServer? _server;
    private NodeAgentServer? _agent;
    private string _kubeconfig = "";
    private Task? _echoing;

    public async Task InitializeAsync()
    {
        _server = await TestApiServer.StartAsync(_clock);
        using var http = _server.Http();
        await PostAsync(http, "/api/v1/namespaces", """{"metadata":{"name":"default"}}""");
        _echo.Start();
        _echoing = EchoAsync();
        _agent = await NodeAgentServer.StartAsync(new StreamingRuntime(((IPEndPoint)_echo.LocalEndpoint).Port), new NodeAgentServerOptions());
        await PostAsync(http, "/api/v1/nodes", """{"metadata":{"name":"own"}}""");
        var endpoint = new JsonObject { ["kubeletEndpoint"] = new JsonObject { ["Port"] = _agent.EndPoint!.Port } };
        var status = new JsonObject { ["addresses"] = new JsonArray(new JsonObject { ["type"] = "InternalIP", ["address"] = "127.0.0.1" }), ["daemonEndpoints"] = endpoint };
        await PatchAsync(http, "/api/v1/nodes/own/status", new JsonObject { ["status"] = status }.ToJsonString());
        await PostAsync(http, "/api/v1/namespaces/default/pods", """{"metadata":{"name":"web"},"spec":{"nodeName":"own","containers":[{"name":"main","image":"busybox"}]}}""");
        await PatchAsync(http, "/api/v1/namespaces/default/pods/web/status", """{"status":{"phase":"Running","containerStatuses":[{"name":"main","image":"busybox","imageID":"","ready":true,"restartCount":0,"state":{"running":{}}}]}}""");

        var (certificate, key) = _server.Certificates.IssueClient("admin", ["system:masters"], TimeProvider.System);
        _kubeconfig = Path.Combine(Directory.CreateTempSubdirectory("orch-own-streams-").FullName, "kubeconfig");
        await File.WriteAllTextAsync(_kubeconfig, Kubeconfig.Create("test", _server.Url, _server.Certificates.Authority.ExportCertificatePem(), certificate, key));
    }

    public async Task DisposeAsync()
    {
        _echo.Stop();
        if (_echoing is not null)
        {
            await _echoing;
        }

        if (_agent is not null)
        {
            await _agent.DisposeAsync();
        }

        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        Directory.Delete(Path.GetDirectoryName(_kubeconfig)!, recursive: true);
    }

    [Theory]
    [InlineData("/usr/lib/google-cloud-sdk/bin/kubectl.1.27")]
    [InlineData("/usr/lib/google-cloud-sdk/bin/kubectl.1.33")]
    public async Task Exec_reaches_the_runtimes_own_streams_with_output_stdin_and_exit_code(string binary)
    {
        var kubectl = new Kubectl(binary, _kubeconfig);
        var echo = await kubectl.RunAsync(["exec", "web", "--", "echo", "hello", "there"]);
        echo.ExitCode.Should().Be(0, echo.ToString());
        echo.Stdout.Should().Be("hello there\n");

        var failing = await kubectl.RunAsync(["exec", "web", "--", "exit", "3"]);
        failing.ExitCode.Should().Be(3, failing.ToString());

        var piped = await kubectl.RunAsync(["exec", "-i", "web", "--", "upper"], stdin: "quiet words\n");
        piped.ExitCode.Should().Be(0, piped.ToString());
        piped.Stdout.Should().Be("QUIET WORDS\n", "stdin arrives and its end ends the command");

        var errors = await kubectl.RunAsync(["exec", "web", "--", "complain"]);
        errors.Stderr.Should().Contain("to stderr");
    }

    [Theory]
    [InlineData("/usr/lib/google-cloud-sdk/bin/kubectl.1.27")]
    [InlineData("/usr/lib/google-cloud-sdk/bin/kubectl.1.33")]
    public async Task Port_forward_reaches_the_pods_port_through_the_node_agent(string binary)
    {
        var local = FreePorts.Next();
        using var forward = new Kubectl(binary, _kubeconfig).Start("port-forward", "pod/web", $"{local}:7000", "--address", "127.0.0.1");
        try
        {
            string? answer = null;
            for (var i = 0; i < 50 && answer is null; i++)
            {
                try
                {
                    using var client = new TcpClient();
                    await client.ConnectAsync(IPAddress.Loopback, local);
                    var stream = client.GetStream();
                    await stream.WriteAsync("ping\n"u8.ToArray());
                    var buffer = new byte[64];
                    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                    var read = await stream.ReadAsync(buffer, timeout.Token);
                    answer = Encoding.ASCII.GetString(buffer, 0, read);
                }
                catch (Exception ex) when (ex is SocketException or IOException or OperationCanceledException)
                {
                    await Task.Delay(200);
                }
            }

            answer.Should().Be("echo:ping\n", "bytes go to the pod's port 7000 and back");
        }
        finally
        {
            forward.Kill();
            await forward.WaitForExitAsync();
        }
    }

    /// <summary>The pod's port: echoes each read back with a prefix.</summary>
    private async Task EchoAsync()
    {
        try
        {
            while (true)
            {
                var client = await _echo.AcceptTcpClientAsync();
                _ = Task.Run(async () =>
                {
                    using (client)
                    {
                        var stream = client.GetStream();
                        var buffer = new byte[1024];
                        int read;
                        while ((read = await stream.ReadAsync(buffer)) > 0)
                        {
                            await stream.WriteAsync(Encoding.ASCII.GetBytes("echo:" + Encoding.ASCII.GetString(buffer, 0, read)));
                        }
                    }
                });
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Stopped.
        }
    }

    private static async Task PostAsync(HttpClient http, string path, string body) =>
        (await SendAsync(http, HttpMethod.Post, path, body, "application/json")).Should().Be(HttpStatusCode.Created);

    private static async Task PatchAsync(HttpClient http, string path, string body) =>
        (await SendAsync(http, HttpMethod.Patch, path, body, "application/merge-patch+json")).Should().Be(HttpStatusCode.OK);

    private static async Task<HttpStatusCode> SendAsync(HttpClient http, HttpMethod method, string path, string body, string type)
    {
        using var request = new HttpRequestMessage(method, path) { Content = new StringContent(body, Encoding.UTF8) };
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(type);
        using var response = await http.SendAsync(request);
        return response.StatusCode;
    }

    /// <summary>
    /// One running container of pod default/web whose commands are answered here: <c>echo</c>,
    /// <c>exit N</c>, <c>upper</c> (stdin upper-cased until it ends), <c>complain</c> (to stderr); its
    /// port 7000 is the test's echo listener.
    /// </summary>
    private sealed class StreamingRuntime(int echoPort) : OnePodRuntime, IContainerStreams
    {
        public async Task<int> ExecAsync(string containerId, IReadOnlyList<string> command, ContainerStreams streams, CancellationToken cancellationToken)
        {
            switch (command[0])
            {
                case "echo":
                    await streams.Stdout!.WriteAsync(Encoding.UTF8.GetBytes(string.Join(' ', command.Skip(1)) + "\n"), cancellationToken);
                    return 0;
                case "exit":
                    return int.Parse(command[1], System.Globalization.CultureInfo.InvariantCulture);
                case "upper":
                    using (var reader = new StreamReader(streams.Stdin!))
                    {
                        var text = await reader.ReadToEndAsync(cancellationToken);
                        await streams.Stdout!.WriteAsync(Encoding.UTF8.GetBytes(text.ToUpperInvariant()), cancellationToken);
                    }

                    return 0;
                default:
                    await streams.Stderr!.WriteAsync("to stderr\n"u8.ToArray(), cancellationToken);
                    return 1;
            }
        }

        public Task<int?> AttachAsync(string containerId, ContainerStreams streams, CancellationToken cancellationToken) => Task.FromResult<int?>(0);

        public async Task<Stream> ConnectToPodAsync(string sandboxId, int port, CancellationToken cancellationToken)
        {
            port.Should().Be(7000);
            var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, echoPort, cancellationToken);
            return client.GetStream();
        }
    }
}
