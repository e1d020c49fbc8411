import Jobs

await CommandLineTool.main(Array(CommandLine.arguments.dropFirst()))
