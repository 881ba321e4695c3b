using System.Globalization;

namespace Orchestration.ApiServer.Tables;

/// <summary>Ages and durations the way kubectl prints them (<c>45s</c>, <c>5m30s</c>, <c>3h</c>, <c>2d5h</c>).</summary>
public static class HumanDuration
{
    /// <summary>The short human form of a duration.</summary>
    public static string Format(TimeSpan duration)
    {
        var seconds = (long)duration.TotalSeconds;
        if (seconds < 0)
        {
            return "<invalid>";
        }

        if (seconds < 60 * 2)
        {
            return $"{seconds}s";
        }

        var minutes = seconds / 60;
        if (minutes < 10)
        {
            return seconds % 60 == 0 ? $"{minutes}m" : $"{minutes}m{seconds % 60}s";
        }

        if (minutes < 60 * 3)
        {
            return $"{minutes}m";
        }

        var hours = minutes / 60;
        if (hours < 8)
        {
            return minutes % 60 == 0 ? $"{hours}h" : $"{hours}h{minutes % 60}m";
        }

        if (hours < 48)
        {
            return $"{hours}h";
        }

        if (hours < 24 * 8)
        {
            return hours % 24 == 0 ? $"{hours / 24}d" : $"{hours / 24}d{hours % 24}h";
        }

        if (hours < 24 * 365 * 2)
        {
            return $"{hours / 24}d";
        }

        var years = hours / 24 / 365;
        var days = (hours / 24) - (years * 365);
        return years < 8 && days > 0 ? $"{years}y{days}d" : $"{years}y";
    }

    /// <summary>The age of something created at an RFC 3339 time, or <c>&lt;unknown&gt;</c>.</summary>
    public static string Since(string? timestamp, DateTimeOffset now) =>
        DateTimeOffset.TryParse(timestamp, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time)
            ? Format(now - time)
            : "<unknown>";
}
