using System.CommandLine;
using System.Text.RegularExpressions;
using Orchestration.ApiServer.Security;

namespace Orchestration.Cli;

/// <summary>
/// <c>orch kubeconfig --user NAME [--group G]...</c>: a credential for a person, as a kubeconfig on
/// standard output (or <c>--output FILE</c>): a client certificate the cluster's CA signs, with the
/// user as its CN and the groups as its O entries, for the cluster whose data directory is given.
/// What the user may do is then up to RBAC bindings (a new user may do nothing but ask who it is).
/// <c>orch kubeconfig --node NAME</c> issues a node's credential instead (<c>system:node:NAME</c> in
/// <c>system:nodes</c>), which the Node authorizer and NodeRestriction hold to that node's objects.
/// </summary>
internal static partial class KubeconfigCommand
{
    public static Command Create()
    {
        var dataDir = new Option<string>("--data-dir") { Description = "The cluster's data directory (the one orch up used).", DefaultValueFactory = _ => Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".orch") };
        var user = new Option<string?>("--user") { Description = "The user name (the certificate's CN)." };
        var node = new Option<string?>("--node") { Description = "Issue the credential of this node (system:node:NAME in system:nodes) instead of a user's." };
        var groups = new Option<string[]>("--group") { Description = "A group the user is in (the certificate's O); may be given several times.", AllowMultipleArgumentsPerToken = false, Arity = ArgumentArity.ZeroOrMore };
        var server = new Option<string?>("--server") { Description = "The API server's URL (default: the one in <data-dir>/kubeconfig)." };
        var output = new Option<string?>("--output") { Description = "Write the kubeconfig to this file (mode 0600) instead of standard output." };
        var command = new Command("kubeconfig", "Issue a kubeconfig for a user of a running cluster.") { dataDir, user, node, groups, server, output };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var directory = Path.GetFullPath(parse.GetValue(dataDir)!);
            var pki = Path.Combine(directory, "pki");
            if (!File.Exists(Path.Combine(pki, "ca.crt")) || !File.Exists(Path.Combine(pki, "ca.key")))
            {
                return await FailAsync($"{directory} holds no cluster CA (pki/ca.crt and pki/ca.key): start the cluster with orch up --data-dir {directory} first").ConfigureAwait(false);
            }

            var name = parse.GetValue(user);
            var nodeName = parse.GetValue(node);
            var memberOf = parse.GetValue(groups) ?? [];
            if ((name is null) == (nodeName is null))
            {
                return await FailAsync("give either --user NAME or --node NAME").ConfigureAwait(false);
            }

            if (nodeName is not null)
            {
                if (!NodeName().IsMatch(nodeName) || nodeName.Length > 253 || memberOf.Length > 0)
                {
                    return await FailAsync($"--node \"{nodeName}\" must be a node name (lowercase letters, digits, '-' and '.'), without --group").ConfigureAwait(false);
                }

                (name, memberOf) = ($"system:node:{nodeName}", ["system:nodes"]);
            }
            else if (name!.Length == 0 || name.StartsWith("system:", StringComparison.Ordinal))
            {
                return await FailAsync($"--user \"{name}\" is empty or a system: name; those are the cluster's own identities (--node issues a node's)").ConfigureAwait(false);
            }

            var url = parse.GetValue(server) ?? ServerOf(Path.Combine(directory, "kubeconfig"));
            if (url is null)
            {
                return await FailAsync($"no --server given and no server in {Path.Combine(directory, "kubeconfig")}").ConfigureAwait(false);
            }

            var certificates = ClusterCertificates.LoadOrCreate(pki, TimeProvider.System);
            var (certificate, key) = certificates.IssueClient(name, memberOf, TimeProvider.System);
            var text = Kubeconfig.Create("orchestration", url, certificates.Authority.ExportCertificatePem(), certificate, key, name);
            if (parse.GetValue(output) is { } file)
            {
                await File.WriteAllTextAsync(file, text, cancellationToken).ConfigureAwait(false);
                if (!OperatingSystem.IsWindows())
                {
                    // It holds the user's key.
                    File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
                }
            }
            else
            {
                await Console.Out.WriteAsync(text).ConfigureAwait(false);
            }

            return 0;
        });
        return command;
    }

    // The server of the cluster's own kubeconfig (written by orch up), or null.
    private static string? ServerOf(string kubeconfig) =>
        File.Exists(kubeconfig) && ServerLine().Match(File.ReadAllText(kubeconfig)) is { Success: true } match ? match.Groups[1].Value.Trim() : null;

    private static async Task<int> FailAsync(string message)
    {
        await Console.Error.WriteLineAsync($"orch: {message}").ConfigureAwait(false);
        return 2;
    }

    [GeneratedRegex(@"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")]
    private static partial Regex NodeName();

    [GeneratedRegex(@"^\s*server:\s*(\S+)\s*$", RegexOptions.Multiline)]
    private static partial Regex ServerLine();
}
