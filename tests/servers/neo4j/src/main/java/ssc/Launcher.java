package ssc;

import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.harness.Neo4j;
import org.neo4j.harness.Neo4jBuilders;

/** A real Neo4j 5 on a free loopback port: prints its Bolt URI, stops on stdin EOF or SIGTERM. */
public final class Launcher {
    public static void main(String[] args) throws Exception {
        Path dir = Files.createTempDirectory("ssc-neo4j-");
        int port;
        try (ServerSocket probe = new ServerSocket()) {
            probe.bind(new InetSocketAddress("127.0.0.1", 0));
            port = probe.getLocalPort();
        }
        Neo4j neo4j = Neo4jBuilders.newInProcessBuilder(dir)
                .withDisabledServer()
                .withConfig(BoltConnector.enabled, true)
                .withConfig(BoltConnector.listen_address, new SocketAddress("127.0.0.1", port))
                .withConfig(GraphDatabaseSettings.pagecache_memory, 256L * 1024 * 1024)
                .withProcedure(apoc.path.PathExplorer.class)
                .build();
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            neo4j.close();
            stopped.countDown();
        }));
        System.out.println("bolt=" + neo4j.boltURI());
        System.out.flush();
        while (System.in.read() != -1) {
            // Any input is ignored; end of input means the test session is gone.
        }
        System.exit(0);
    }
}
