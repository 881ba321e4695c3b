using System.Security.Cryptography;
using System.Text;
using Orchestration.Testing.Daemons;

namespace Orchestration.E2E.Tests;

/// <summary><c>orch up --encryption-provider-config</c>: Secrets written with the real kubectl are ciphertext in the state files, and an unusable configuration stops the start.</summary>
[Trait("Category", "E2E")]
public sealed class EncryptionAtRestTests
{
    [Fact]
    public async Task Secrets_are_ciphertext_in_the_state_files_and_read_back_in_clear_through_the_api()
    {
        var dataDir = Directory.CreateTempSubdirectory("orch-encrypt-").FullName;
        var config = Path.Combine(dataDir, "encryption.yaml");
        await File.WriteAllTextAsync(config, $"""
            apiVersion: apiserver.config.k8s.io/v1
            kind: EncryptionConfiguration
            resources:
            - resources: [secrets]
              providers:
              - aesgcm:
                  keys:
                  - name: key1
                    secret: {Convert.ToBase64String(RandomNumberGenerator.GetBytes(32))}
              - identity: {"{}"}
            """);
        await using var orch = await OrchProcess.StartAsync(dataDir, null, "--encryption-provider-config", config);
        var kubectl = new Kubectl(Kubectl.Versions[^1], orch.Kubeconfig);
        const string Value = "correct-horse-battery-staple";

        (await kubectl.RunAsync(["create", "secret", "generic", "db", "--from-literal=password=" + Value])).ExitCode.Should().Be(0);
        (await kubectl.RunAsync(["create", "configmap", "plain", "--from-literal=note=" + Value])).ExitCode.Should().Be(0);
        var read = await kubectl.RunAsync(["get", "secret", "db", "-o", "jsonpath={.data.password}"]);
        Encoding.UTF8.GetString(Convert.FromBase64String(read.Stdout.Trim())).Should().Be(Value, "the API serves the Secret in clear");

        // Every state file (the database and its write-ahead log) as bytes on disk.
        var onDisk = string.Concat(Directory.EnumerateFiles(Path.Combine(dataDir, "state"), "*", SearchOption.AllDirectories).Select(f => Encoding.Latin1.GetString(File.ReadAllBytes(f))));
        onDisk.Should().Contain("k8s:enc:aesgcm:v1:key1:", "the Secret is stored encrypted");
        onDisk.Should().Contain(Value, "the ConfigMap, not listed in the configuration, is stored as it is");
        onDisk.Split(Value).Length.Should().Be(2, "the value appears once, in the ConfigMap, and not in the Secret");
        onDisk.Should().NotContain(Convert.ToBase64String(Encoding.UTF8.GetBytes(Value)), "nor the Secret's base64 data");
        Directory.Delete(dataDir, recursive: true);
    }

    [Fact]
    public async Task An_unusable_encryption_configuration_stops_orch_up_with_the_reason()
    {
        var dataDir = Directory.CreateTempSubdirectory("orch-encrypt-bad-").FullName;
        var config = Path.Combine(dataDir, "encryption.yaml");
        await File.WriteAllTextAsync(config, """
            apiVersion: apiserver.config.k8s.io/v1
            kind: EncryptionConfiguration
            resources:
            - resources: [secrets]
              providers:
              - aesgcm: {keys: [{name: key1, secret: c2hvcnQ=}]}
            """);
        var result = await OrchProcess.RunToExitAsync(TimeSpan.FromSeconds(60), "up", "--data-dir", dataDir, "--runtime", "none", "--port", FreePorts.Next().ToString(System.Globalization.CultureInfo.InvariantCulture), "--encryption-provider-config", config);
        result.ExitCode.Should().NotBe(0, result.ToString());
        (result.Stdout + result.Stderr).Should().Contain($"the encryption configuration {config} cannot be used: resources[0].providers[0].aesgcm.keys[0]: needs a name without ':' and a base64 secret of 16, 24 or 32 bytes");
        Directory.Delete(dataDir, recursive: true);
    }
}
