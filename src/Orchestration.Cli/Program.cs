using System.CommandLine;
using Orchestration.Cli;

var root = new RootCommand("orch: a Kubernetes-style cluster built from the Orchestration SDK.");
root.Subcommands.Add(UpCommand.Create());
root.Subcommands.Add(AgentCommand.Create());
root.Subcommands.Add(KubeconfigCommand.Create());
return await root.Parse(args).InvokeAsync().ConfigureAwait(false);
