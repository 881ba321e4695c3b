using Orchestration.Testing.Daemons;

namespace Orchestration.E2E.Tests;

/// <summary>One <c>orch up</c> shared by the kubectl tests; each test works in a namespace of its own.</summary>
public sealed class OrchCluster : IAsyncLifetime
{
    private OrchProcess? _orch;

    public OrchProcess Orch => _orch!;

    public async Task InitializeAsync() => _orch = await OrchProcess.StartAsync();

    public async Task DisposeAsync()
    {
        if (_orch is not null)
        {
            await _orch.DisposeAsync();
            Directory.Delete(_orch.DataDir, recursive: true);
        }
    }

    public Kubectl Kubectl(string binary) => new(binary, Orch.Kubeconfig);

    /// <summary>A fresh namespace for one test.</summary>
    public async Task<string> NamespaceAsync(Kubectl kubectl)
    {
        var name = $"e2e-{Guid.NewGuid():N}"[..16];
        var result = await kubectl.RunAsync(["apply", "-f", "-"], $"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n");
        result.ExitCode.Should().Be(0, result.ToString());
        return name;
    }
}

[CollectionDefinition(Name)]
public sealed class OrchClusterCollection : ICollectionFixture<OrchCluster>
{
    public const string Name = "orch up";
}
