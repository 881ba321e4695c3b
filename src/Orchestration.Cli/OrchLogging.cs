using Microsoft.Extensions.Logging;

namespace Orchestration.Cli;

/// <summary>How <c>orch</c> logs: one line per message on the console, ASP.NET Core's and the host's own chatter only when it matters.</summary>
internal static class OrchLogging
{
    public static void Configure(ILoggingBuilder logging)
    {
        logging.ClearProviders();
        logging.AddSimpleConsole(o => o.SingleLine = true);
        logging.SetMinimumLevel(LogLevel.Information);
        logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        logging.AddFilter("Microsoft.Hosting", LogLevel.Warning);
        logging.AddFilter("Microsoft.Extensions.Hosting", LogLevel.Warning);
    }
}
