package ssc;

import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.harness.Neo4j;
import org.neo4j.harness.Neo4jBuilders;

/**
 * A real Neo4j 5 on a free loopback port: prints its Bolt URI, stops on stdin EOF or SIGTERM.
 *
 * <p>Without arguments, Neo4j's test harness on a fresh temporary store. With {@code --home DIR},
 * Neo4j's own embedded builder on DIR, reusing the store a previous launcher left there (the
 * harness always makes a new random folder under its working directory): a test that SIGKILLs
 * the server restarts it on the same store, which Neo4j recovers from its transaction log.
 */
public final class Launcher {
    public static void main(String[] args) throws Exception {
        int port;
        try (ServerSocket probe = new ServerSocket()) {
            probe.bind(new InetSocketAddress("127.0.0.1", 0));
            port = probe.getLocalPort();
        }
        SocketAddress bolt = new SocketAddress("127.0.0.1", port);
        Runnable close;
        if (args.length == 2 && args[0].equals("--home")) {
            DatabaseManagementService dbms = new DatabaseManagementServiceBuilder(Path.of(args[1]))
                    .setConfig(BoltConnector.enabled, true)
                    .setConfig(BoltConnector.listen_address, bolt)
                    .setConfig(GraphDatabaseSettings.auth_enabled, false)
                    .setConfig(GraphDatabaseSettings.pagecache_memory, 256L * 1024 * 1024)
                    .build();
            close = dbms::shutdown;
        } else if (args.length == 0) {
            Neo4j neo4j = Neo4jBuilders.newInProcessBuilder(Files.createTempDirectory("ssc-neo4j-"))
                    .withDisabledServer()
                    .withConfig(BoltConnector.enabled, true)
                    .withConfig(BoltConnector.listen_address, bolt)
                    .withConfig(GraphDatabaseSettings.pagecache_memory, 256L * 1024 * 1024)
                    .withProcedure(apoc.path.PathExplorer.class)
                    .build();
            close = neo4j::close;
        } else {
            System.err.println("usage: Launcher [--home DIR]");
            System.exit(2);
            return;
        }
        Runtime.getRuntime().addShutdownHook(new Thread(close));
        System.out.println("bolt=bolt://127.0.0.1:" + port);
        System.out.flush();
        while (System.in.read() != -1) {
            // Any input is ignored; end of input means the test session is gone.
        }
        System.exit(0);
    }
}
